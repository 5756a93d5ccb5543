import { describe, expect, it } from 'vitest';
import {
  CorruptFileError,
  SeededRandom,
  createQuantizer,
  e4m3Table,
  fromE4m3,
  toE4m3,
} from '../../src/index.js';

describe('fp8 e4m3 (OCP E4M3FN)', () => {
  it('encodes known bit patterns, saturating, RNE', () => {
    const cases: [number, number][] = [
      [0, 0x00],
      [-0, 0x80],
      [1, 0x38],
      [-1, 0xb8],
      [448, 0x7e],
      [449, 0x7e],
      [1e9, 0x7e],
      [-1e9, 0xfe],
      [Number.POSITIVE_INFINITY, 0x7e],
      [2 ** -6, 0x08], // smallest normal
      [2 ** -9, 0x01], // smallest subnormal
      [2 ** -10, 0x00], // tie → even (0)
      [1.5 * 2 ** -9, 0x02], // tie between 1 and 2 units → 2
      [7 * 2 ** -9, 0x07], // largest subnormal
      [7.5 * 2 ** -9, 0x08], // rounds up into the normals
      [1.0625, 0x38], // tie between 1 and 1.125 → even (1)
      [1.1875, 0x3a], // tie between 1.125 and 1.25 → even (1.25)
      [240, 0x77],
      [416, 0x7d],
    ];
    for (const [x, b] of cases) expect(toE4m3(x), `e4m3 of ${x}`).toBe(b);
    expect(toE4m3(Number.NaN)).toBe(0x7f);
    expect(Number.isNaN(fromE4m3(0x7f))).toBe(true);
    expect(Number.isNaN(fromE4m3(0xff))).toBe(true);
    expect(fromE4m3(0x7e)).toBe(448);
    expect(fromE4m3(0x01)).toBe(2 ** -9);
  });

  it('round-trips every finite code and rounds to the nearest code', () => {
    const t = e4m3Table();
    for (let b = 0; b < 256; b++) {
      if ((b & 0x7f) === 0x7f) continue;
      const back = toE4m3(t[b]!);
      expect(back === b || (t[b] === 0 && (back & 0x7f) === 0)).toBe(true);
    }
    const finite = [...t].filter((v) => Number.isFinite(v));
    const rng = new SeededRandom(3);
    for (let i = 0; i < 20_000; i++) {
      const x = Math.fround((rng.next() * 2 - 1) * 2 ** (rng.next() * 20 - 11));
      const y = fromE4m3(toE4m3(x));
      const best = Math.min(...finite.map((v) => Math.abs(v - Math.max(-448, Math.min(448, x)))));
      expect(Math.abs(y - Math.max(-448, Math.min(448, x)))).toBe(best);
    }
  });

  it('quantizer: 8 bits per value, rejects NaN codes in stored bytes', () => {
    const q = createQuantizer({ kind: 'fp8', format: 'e4m3' });
    const shape = { tokens: 3, kvHeads: 2, headDim: 4 };
    const x = new SeededRandom(4).normalArray(24, 0, 10);
    const enc = q.encode(x, shape);
    expect(enc.bytes.length).toBe(24);
    expect(q.bitsPerValue(shape)).toBe(8);
    const y = q.decode(enc);
    for (let i = 0; i < 24; i++) expect(y[i]).toBe(fromE4m3(toE4m3(x[i]!)));
    const bad = { shape, bytes: enc.bytes.slice() };
    bad.bytes[5] = 0xff;
    expect(() => q.decode(bad)).toThrow(CorruptFileError);
  });
});
