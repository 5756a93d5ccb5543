import { setFloat16 } from '@petamoriken/float16';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HiggsSpec } from '../../src/index.js';
import {
  GRID_2D_MSE,
  Grid2dIndex,
  HiggsQuantizer,
  InvalidArgumentError,
  LLOYD_MAX_GAUSSIAN_MSE,
  SeededRandom,
  ShapeError,
  createQuantizer,
  fromFloat16Bits,
  fwht,
  gaussianGrid2d,
  lloydMaxGaussian,
  nearestPoint2d,
  randomSigns,
  unpackBits,
} from '../../src/index.js';

function mse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}

describe('fwht and randomSigns', () => {
  it('fwht is orthonormal and its own inverse; matches the Hadamard matrix', () => {
    for (const n of [1, 2, 4, 8, 64, 128, 1024]) {
      const x = new SeededRandom(n).normalArray(n);
      const y = fwht(x.slice());
      let nx = 0;
      let ny = 0;
      for (let i = 0; i < n; i++) {
        nx += x[i]! ** 2;
        ny += y[i]! ** 2;
      }
      expect(Math.abs(ny / nx - 1)).toBeLessThan(1e-5);
      const back = fwht(y.slice());
      for (let i = 0; i < n; i++) expect(Math.abs(back[i]! - x[i]!)).toBeLessThan(1e-5);
      if (n <= 64) {
        // H[i][j] = (−1)^popcount(i & j) / √n
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) {
            let p = i & j;
            let par = 0;
            while (p) {
              par ^= p & 1;
              p >>= 1;
            }
            s += (par ? -1 : 1) * x[j]!;
          }
          expect(Math.abs(y[i]! - s / Math.sqrt(n))).toBeLessThan(1e-5);
        }
      }
    }
    expect(() => fwht(new Float32Array(6))).toThrow(InvalidArgumentError);
  });

  it('randomSigns is seeded, ±1, balanced', () => {
    const a = randomSigns(7, 4096);
    expect(randomSigns(7, 4096)).toEqual(a);
    expect(randomSigns(8, 4096)).not.toEqual(a);
    let sum = 0;
    for (const v of a) {
      expect(Math.abs(v)).toBe(1);
      sum += v;
    }
    expect(Math.abs(sum)).toBeLessThan(4 * Math.sqrt(4096));
  });
});

/** Reference re-implementation from FORMAT.md, independent of the quantizer's code paths. */
function reference(spec: HiggsSpec, x: Float32Array, T: number, C: number, bytes: Uint8Array) {
  const B = spec.block;
  const nb = C / B;
  const signs = randomSigns(spec.seed, B);
  const codeBits = spec.dim === 1 ? spec.bits : 2 * spec.bits;
  const codes = unpackBits(bytes.subarray(2 * T * nb), codeBits, spec.dim === 1 ? T * C : (T * C) / 2);
  const levels = spec.dim === 1 ? lloydMaxGaussian(spec.bits) : gaussianGrid2d(spec.bits);
  const out = new Float32Array(T * C);
  for (let t = 0; t < T; t++)
    for (let j = 0; j < nb; j++) {
      const base = t * C + j * B;
      const y = new Float32Array(B);
      for (let i = 0; i < B; i++) y[i] = signs[i]! * x[base + i]!;
      fwht(y);
      const s = fromFloat16Bits(bytes[2 * (t * nb + j)]! | (bytes[2 * (t * nb + j) + 1]! << 8));
      let ss = 0;
      for (const v of y) ss += v * v;
      expect(s).toBe(fromFloat16Bits(fp16BitsOf(Math.fround(Math.sqrt(ss / B)))));
      const yh = new Float32Array(B);
      if (spec.dim === 1) {
        for (let i = 0; i < B; i++) {
          const z = s === 0 ? 0 : Math.fround(y[i]! / s);
          const code = codes[base + i]!;
          for (const l of levels) expect(Math.abs(z - levels[code]!)).toBeLessThanOrEqual(Math.abs(z - l));
          yh[i] = levels[code]! * s;
        }
      } else {
        for (let p = 0; p < B / 2; p++) {
          const zx = s === 0 ? 0 : Math.fround(y[2 * p]! / s);
          const zy = s === 0 ? 0 : Math.fround(y[2 * p + 1]! / s);
          const code = codes[(base >> 1) + p]!;
          const d = (k: number) => (zx - levels[2 * k]!) ** 2 + (zy - levels[2 * k + 1]!) ** 2;
          for (let k = 0; k < levels.length / 2; k++) expect(d(code)).toBeLessThanOrEqual(d(k));
          yh[2 * p] = levels[2 * code]! * s;
          yh[2 * p + 1] = levels[2 * code + 1]! * s;
        }
      }
      fwht(yh);
      for (let i = 0; i < B; i++) out[base + i] = signs[i]! * yh[i]!;
    }
  return out;
}

/** fp16 bits by @petamoriken/float16 (independent of kvq's own conversion). */
function fp16BitsOf(v: number): number {
  const dv = new DataView(new ArrayBuffer(2));
  setFloat16(dv, 0, v, true);
  return dv.getUint16(0, true);
}

describe('Grid2dIndex', () => {
  it('finds exactly the brute-force nearest point (ties included) at every rate', () => {
    const rng = new SeededRandom(51);
    for (const bits of [1, 1.5, 2, 2.5, 3]) {
      const grid = gaussianGrid2d(bits);
      const index = new Grid2dIndex(grid);
      const K = grid.length / 2;
      for (let i = 0; i < 40_000; i++) {
        const x = Math.fround(rng.normal() * 1.5);
        const y = Math.fround(rng.normal() * 1.5);
        expect(index.nearest(x, y)).toBe(nearestPoint2d(grid, x, y));
      }
      // grid points, midpoints of pairs (ties), and far-away queries
      for (let a = 0; a < K; a++) {
        expect(index.nearest(grid[2 * a]!, grid[2 * a + 1]!)).toBe(
          nearestPoint2d(grid, grid[2 * a]!, grid[2 * a + 1]!),
        );
        for (let b = 0; b < K; b++) {
          const mx = (grid[2 * a]! + grid[2 * b]!) / 2;
          const my = (grid[2 * a + 1]! + grid[2 * b + 1]!) / 2;
          expect(index.nearest(mx, my)).toBe(nearestPoint2d(grid, mx, my));
        }
      }
      for (const [x, y] of [
        [100, 0],
        [-7, 3.9],
        [4, 4],
        [-4, -4],
        [3.999, -3.999],
      ] as const) {
        expect(index.nearest(x, y)).toBe(nearestPoint2d(grid, x, y));
      }
    }
  });
});

describe('higgs quantizer', () => {
  it('matches the FORMAT.md reference: nearest grid point, RMS scale, inverse rotation (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<[1 | 2, number]>(
          [1, 1],
          [1, 2],
          [1, 3],
          [1, 4],
          [1, 8],
          [2, 1],
          [2, 1.5],
          [2, 2],
          [2, 2.5],
          [2, 3],
        ),
        fc.constantFrom(2, 8, 32, 64),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        ([dim, bits], block, tokens, kvHeads, seed) => {
          const spec: HiggsSpec = { kind: 'higgs', bits, dim, block, seed };
          const q = createQuantizer(spec);
          const shape = { tokens, kvHeads, headDim: 64 };
          const C = kvHeads * 64;
          const x = new SeededRandom(seed).normalArray(tokens * C, 0.5, 3);
          const enc = q.encode(x, shape);
          const y = q.decode(enc);
          const ref = reference(spec, x, tokens, C, enc.bytes);
          for (let i = 0; i < y.length; i++)
            expect(Math.abs(y[i]! - ref[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(ref[i]!)));
        },
      ),
      { numRuns: 50, seed: 13 },
    );
  });

  const N = 1 << 17; // 2^17 values: 1024 tokens × 128 channels
  const shape = { tokens: 1024, kvHeads: 2, headDim: 64 };
  const x = new SeededRandom(31).normalArray(N);
  const measured = (spec: HiggsSpec) => {
    const q = createQuantizer(spec);
    return mse(x, q.decode(q.encode(x, shape)));
  };

  it('scalar MSE on N(0,1) is within 3% of the Lloyd-Max bound at 1 and 2 bits', () => {
    for (const block of [64, 128]) {
      const m1 = measured({ kind: 'higgs', bits: 1, dim: 1, block, seed: 1 });
      const m2 = measured({ kind: 'higgs', bits: 2, dim: 1, block, seed: 1 });
      console.log(
        `higgs scalar block ${block}: MSE 1 bit ${m1.toFixed(5)} (bound 0.3634), 2 bits ${m2.toFixed(5)} (bound 0.1175)`,
      );
      expect(Math.abs(m1 / 0.3634 - 1)).toBeLessThan(0.03);
      expect(Math.abs(m2 / 0.1175 - 1)).toBeLessThan(0.03);
    }
  });

  it('2-D grids: MSE at 1, 1.5, 2, 2.5, 3 bits, at or below scalar at the same rate', () => {
    const rows: string[] = [];
    const m2d: Record<string, number> = {};
    for (const bits of [1, 1.5, 2, 2.5, 3]) {
      m2d[bits] = measured({ kind: 'higgs', bits, dim: 2, block: 128, seed: 1 });
      rows.push(`${bits}: ${m2d[bits]!.toFixed(5)} (generator quadrature ${GRID_2D_MSE[String(bits)]})`);
    }
    const m1d: Record<number, number> = {};
    for (const bits of [1, 2, 3]) m1d[bits] = measured({ kind: 'higgs', bits, dim: 1, block: 128, seed: 1 });
    console.log(
      `higgs 2-D MSE (block 128, 2^17 N(0,1) values): ${rows.join('; ')}; scalar: ${JSON.stringify(m1d)}`,
    );
    // 1 bit: the 4-point 2-D optimum is the product of the two 1-bit levels, so equal up to fp32 rounding
    expect(m2d[1]!).toBeLessThanOrEqual(m1d[1]! * (1 + 1e-4));
    expect(m2d[2]!).toBeLessThan(m1d[2]!);
    expect(m2d[3]!).toBeLessThan(m1d[3]!);
    // fractional rates sit between the neighbouring integer rates
    expect(m2d[1.5]!).toBeLessThan(m2d[1]!);
    expect(m2d[1.5]!).toBeGreaterThan(m2d[2]!);
    expect(m2d[2.5]!).toBeLessThan(m2d[2]!);
    expect(m2d[2.5]!).toBeGreaterThan(m2d[3]!);
    for (const b of [1, 2, 3]) expect(m1d[b]!).toBeLessThan(LLOYD_MAX_GAUSSIAN_MSE[b]! * 1.03);
  });

  it('rejects bad specs and shapes', () => {
    const ok: HiggsSpec = { kind: 'higgs', bits: 2, dim: 1, block: 64, seed: 1 };
    expect(() => createQuantizer({ ...ok, block: 48 })).toThrow(InvalidArgumentError);
    expect(() => createQuantizer({ ...ok, bits: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => createQuantizer({ ...ok, dim: 2, bits: 4 })).toThrow(InvalidArgumentError);
    expect(() => createQuantizer({ ...ok, seed: -1 })).toThrow(InvalidArgumentError);
    const q = new HiggsQuantizer({ ...ok, block: 128 });
    expect(() => q.encode(new Float32Array(3 * 64), { tokens: 1, kvHeads: 3, headDim: 64 })).toThrow(
      ShapeError,
    );
  });
});
