/**
 * Checks every quantizer kind must pass: typed errors on bad input, exact byte accounting,
 * deterministic encoding, decode into a given buffer.
 */
import { describe, expect, it } from 'vitest';
import type { QuantizerSpec } from '../../src/index.js';
import {
  CorruptFileError,
  DTypeError,
  InvalidArgumentError,
  NonFiniteError,
  SeededRandom,
  ShapeError,
  createQuantizer,
} from '../../src/index.js';
import { ALL_SPECS } from './specs.js';

const shapes = [
  { tokens: 1, kvHeads: 1, headDim: 64 },
  { tokens: 7, kvHeads: 2, headDim: 64 },
  { tokens: 33, kvHeads: 3, headDim: 64 },
  { tokens: 128, kvHeads: 1, headDim: 128 },
  { tokens: 0, kvHeads: 2, headDim: 64 },
];

describe.each(ALL_SPECS.map((s) => [JSON.stringify(s), s] as [string, QuantizerSpec]))(
  '%s',
  (_name, spec) => {
    const q = createQuantizer(spec);

    it('encodedBytes and bitsPerValue are exact for many shapes; encoding is deterministic', () => {
      for (const [k, shape] of shapes.entries()) {
        const n = shape.tokens * shape.kvHeads * shape.headDim;
        const x = new SeededRandom(100 + k).normalArray(n, 0.1, 2);
        const enc = q.encode(x, shape);
        expect(enc.bytes.length).toBe(q.encodedBytes(shape));
        expect(q.bitsPerValue(shape)).toBe(n === 0 ? 0 : (enc.bytes.length * 8) / n);
        expect(q.encode(x, shape).bytes).toEqual(enc.bytes);
        const out = new Float32Array(n);
        expect(q.decode(enc, out)).toBe(out);
        expect(out).toEqual(q.decode(enc));
        for (const v of out) expect(Number.isFinite(v)).toBe(true);
      }
    });

    it('NaN / Inf input → NonFiniteError; wrong length → ShapeError; wrong type → DTypeError', () => {
      const shape = { tokens: 4, kvHeads: 2, headDim: 64 };
      const x = new SeededRandom(1).normalArray(512);
      x[77] = Number.NaN;
      expect(() => q.encode(x, shape)).toThrow(NonFiniteError);
      x[77] = Number.NEGATIVE_INFINITY;
      expect(() => q.encode(x, shape)).toThrow(NonFiniteError);
      expect(() => q.encode(new Float32Array(511), shape)).toThrow(ShapeError);
      expect(() => q.encode(new Float32Array(512), { tokens: 4, kvHeads: 2, headDim: 63 })).toThrow(
        ShapeError,
      );
      expect(() => q.encode(new Float32Array(512), { tokens: -4, kvHeads: 2, headDim: 64 })).toThrow(
        ShapeError,
      );
      expect(() => q.encode(new Float64Array(512) as unknown as Float32Array, shape)).toThrow(DTypeError);
    });

    it('short, long or corrupt encoded bytes → CorruptFileError; wrong out → ShapeError', () => {
      const shape = { tokens: 5, kvHeads: 2, headDim: 64 };
      const enc = q.encode(new SeededRandom(2).normalArray(640), shape);
      expect(() => q.decode({ shape, bytes: enc.bytes.subarray(0, enc.bytes.length - 1) })).toThrow(
        CorruptFileError,
      );
      expect(() => q.decode({ shape, bytes: new Uint8Array(0) })).toThrow(CorruptFileError);
      const long = new Uint8Array(enc.bytes.length + 1);
      long.set(enc.bytes);
      expect(() => q.decode({ shape, bytes: long })).toThrow(CorruptFileError);
      expect(() => q.decode({ shape: { ...shape, tokens: 6 }, bytes: enc.bytes })).toThrow(CorruptFileError);
      expect(() => q.decode(enc, new Float32Array(10))).toThrow(ShapeError);
      // every byte set to 0xff: any decoder either rejects it or returns finite values
      const junk = { shape, bytes: new Uint8Array(enc.bytes.length).fill(0xff) };
      try {
        for (const v of q.decode(junk)) expect(Number.isFinite(v)).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(CorruptFileError);
      }
    });

    it('values outside the fp16 range are refused or saturated, never stored as Inf', () => {
      const shape = { tokens: 2, kvHeads: 1, headDim: 64 };
      const x = new SeededRandom(3).normalArray(128);
      x[5] = 1e6;
      let y: Float32Array | null = null;
      try {
        y = q.decode(q.encode(x, shape));
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidArgumentError);
      }
      if (y) for (const v of y) expect(Number.isFinite(v)).toBe(true);
    });
  },
);
