import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BlockShape, UniformSpec } from '../../src/index.js';
import { SeededRandom, createQuantizer, fromFloat16Bits, roundToFloat16 } from '../../src/index.js';

function input(shape: BlockShape, seed: number, std = 1, mean = 0): Float32Array {
  return new SeededRandom(seed).normalArray(shape.tokens * shape.kvHeads * shape.headDim, mean, std);
}

/** Group index of value (t, c), from FORMAT.md. */
function groupOf(spec: UniformSpec, C: number, t: number, c: number): number {
  return spec.axis === 'channel'
    ? Math.floor(t / spec.groupSize) * C + c
    : t * (C / spec.groupSize) + Math.floor(c / spec.groupSize);
}

describe('uniform quantizer', () => {
  it('error within half a step of the stored grid (property, every width and axis)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom<'channel' | 'token'>('channel', 'token'),
        fc.constantFrom(1, 2, 4, 8),
        fc.integer({ min: 0, max: 40 }),
        fc.constantFrom(1, 2),
        fc.constantFrom(8, 16),
        fc.integer({ min: 0, max: 1000 }),
        fc.double({ min: 1e-3, max: 300, noNaN: true }),
        (bits, axis, groupSize, tokens, kvHeads, headDim, seed, std) => {
          const spec: UniformSpec = { kind: 'uniform', bits, axis, groupSize };
          const shape = { tokens, kvHeads, headDim };
          const C = kvHeads * headDim;
          const q = createQuantizer(spec);
          const x = input(shape, seed, std, std / 3);
          const enc = q.encode(x, shape);
          expect(enc.bytes.length).toBe(q.encodedBytes(shape));
          const y = q.decode(enc);
          const nGroups = (enc.bytes.length - Math.ceil((x.length * bits) / 8)) / 4;
          const dv = new DataView(enc.bytes.buffer, enc.bytes.byteOffset);
          // true group min / max
          const lo = new Float64Array(nGroups).fill(Number.POSITIVE_INFINITY);
          const hi = new Float64Array(nGroups).fill(Number.NEGATIVE_INFINITY);
          for (let t = 0; t < tokens; t++)
            for (let c = 0; c < C; c++) {
              const g = groupOf(spec, C, t, c);
              lo[g] = Math.min(lo[g]!, x[t * C + c]!);
              hi[g] = Math.max(hi[g]!, x[t * C + c]!);
            }
          for (let t = 0; t < tokens; t++)
            for (let c = 0; c < C; c++) {
              const g = groupOf(spec, C, t, c);
              const s = fromFloat16Bits(dv.getUint16(2 * g, true));
              const m = fromFloat16Bits(dv.getUint16(2 * nGroups + 2 * g, true));
              expect(s).toBe(roundToFloat16(Math.fround(Math.fround(hi[g]! - lo[g]!) / ((1 << bits) - 1))));
              expect(m).toBe(roundToFloat16(lo[g]!));
              const top = m + ((1 << bits) - 1) * s;
              // half a step of the stored grid, plus what fp16 rounding of min/scale leaves uncovered
              const slack = Math.max(0, m - lo[g]!) + Math.max(0, hi[g]! - top);
              const err = Math.abs(y[t * C + c]! - x[t * C + c]!);
              const tol = s / 2 + slack + 4e-7 * (Math.abs(m) + Math.abs(top));
              if (!(err <= tol)) expect(err).toBeLessThanOrEqual(tol);
            }
        },
      ),
      { numRuns: 300, seed: 11 },
    );
  });

  it('error is at most half a step when min and scale are fp16-exact', () => {
    // values on [−1, 2] with max − min = 3 = (2^2 − 1) · 1: min and scale exact in fp16
    const rng = new SeededRandom(5);
    const shape = { tokens: 64, kvHeads: 1, headDim: 8 };
    const x = new Float32Array(512);
    for (let i = 0; i < x.length; i++) x[i] = Math.fround(-1 + 3 * rng.next());
    for (let c = 0; c < 8; c++) {
      x[c] = -1;
      x[8 + c] = 2;
    }
    const q = createQuantizer({ kind: 'uniform', bits: 2, axis: 'channel', groupSize: 64 });
    const y = q.decode(q.encode(x, shape));
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(y[i]! - x[i]!));
    expect(worst).toBeLessThanOrEqual(0.5);
    expect(worst).toBeGreaterThan(0.45);
    for (let i = 0; i < x.length; i++) expect([-1, 0, 1, 2]).toContain(y[i]);
  });

  it('exact bits per value for many shapes', () => {
    const rng = new SeededRandom(6);
    for (let k = 0; k < 60; k++) {
      const bits = 1 + (k % 8);
      const axis = k % 2 ? 'channel' : 'token';
      const groupSize = [4, 8, 32, 128][k % 4]!;
      const shape = { tokens: Math.floor(rng.next() * 300), kvHeads: 1 + (k % 3), headDim: 128 };
      const q = createQuantizer({ kind: 'uniform', bits, axis, groupSize });
      const enc = q.encode(input(shape, k), shape);
      const n = shape.tokens * shape.kvHeads * shape.headDim;
      expect(enc.bytes.length).toBe(q.encodedBytes(shape));
      expect(q.bitsPerValue(shape)).toBe(n === 0 ? 0 : (enc.bytes.length * 8) / n);
    }
    // KIVI-2 per-channel group 128 at a whole number of groups: 2 + 32/128 bits
    expect(
      createQuantizer({ kind: 'uniform', bits: 2, axis: 'channel', groupSize: 128 }).bitsPerValue({
        tokens: 256,
        kvHeads: 2,
        headDim: 64,
      }),
    ).toBe(2.25);
  });

  it('a constant group decodes exactly (scale 0, codes 0)', () => {
    const q = createQuantizer({ kind: 'uniform', bits: 3, axis: 'token', groupSize: 4 });
    const shape = { tokens: 2, kvHeads: 1, headDim: 4 };
    const x = new Float32Array([0.25, 0.25, 0.25, 0.25, -3, -3, -3, -3]);
    expect([...q.decode(q.encode(x, shape))]).toEqual([...x]);
  });

  it('per-channel beats per-token for keys with planted outlier channels', () => {
    const shape = { tokens: 128, kvHeads: 2, headDim: 64 };
    const C = 128;
    const x = input(shape, 9);
    const rng = new SeededRandom(10);
    const outlierChannels = [3, 40, 77, 101];
    for (const c of outlierChannels) {
      const offset = (rng.next() < 0.5 ? -1 : 1) * (10 + 10 * rng.next());
      for (let t = 0; t < shape.tokens; t++) x[t * C + c] = x[t * C + c]! * 2 + offset;
    }
    const mse = (axis: 'channel' | 'token') => {
      const q = createQuantizer({ kind: 'uniform', bits: 2, axis, groupSize: 32 });
      const y = q.decode(q.encode(x, shape));
      let s = 0;
      for (let i = 0; i < x.length; i++) s += (y[i]! - x[i]!) ** 2;
      return s / x.length;
    };
    const perChannel = mse('channel');
    const perToken = mse('token');
    expect(perChannel).toBeLessThan(perToken / 2);
  });
});
