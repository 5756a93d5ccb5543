import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CodebookSpec } from '../../src/index.js';
import {
  CodebookQuantizer,
  InvalidArgumentError,
  LLOYD_MAX_GAUSSIAN_MSE,
  NonFiniteError,
  SeededRandom,
  createQuantizer,
  fitCodebook,
  fromFloat16Bits,
  lloydMaxGaussian,
  unpackBits,
} from '../../src/index.js';

function mse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}

describe('Lloyd-Max levels of N(0,1)', () => {
  it('match the published tables (Max 1960)', () => {
    expect([...lloydMaxGaussian(1)].map((v) => +v.toFixed(4))).toEqual([-0.7979, 0.7979]);
    expect([...lloydMaxGaussian(2)].map((v) => +v.toFixed(4))).toEqual([-1.5104, -0.4528, 0.4528, 1.5104]);
    expect([...lloydMaxGaussian(3)].slice(4).map((v) => +v.toFixed(3))).toEqual([0.245, 0.756, 1.344, 2.152]);
    expect(LLOYD_MAX_GAUSSIAN_MSE[1]).toBeCloseTo(1 - 2 / Math.PI, 5);
    expect(LLOYD_MAX_GAUSSIAN_MSE[2]).toBeCloseTo(0.1175, 4);
    expect(LLOYD_MAX_GAUSSIAN_MSE[3]).toBeCloseTo(0.03455, 4);
    for (let b = 1; b <= 8; b++) {
      const l = lloydMaxGaussian(b);
      expect(l.length).toBe(2 ** b);
      for (let i = 1; i < l.length; i++) expect(l[i]!).toBeGreaterThan(l[i - 1]!);
    }
    expect(() => lloydMaxGaussian(9)).toThrow(InvalidArgumentError);
  });
});

describe('fitCodebook', () => {
  it('recovers the Lloyd-Max levels from 2^16 N(0,1) samples, deterministically', () => {
    const x = new SeededRandom(21).normalArray(1 << 16);
    const f = fitCodebook(x, 2);
    const ref = lloydMaxGaussian(2);
    for (let i = 0; i < 4; i++) expect(Math.abs(f.levels[i]! - ref[i]!)).toBeLessThan(0.02);
    expect(Math.abs(f.mse / LLOYD_MAX_GAUSSIAN_MSE[2]! - 1)).toBeLessThan(0.02);
    expect(fitCodebook(x, 2)).toEqual(f);
    // the reported MSE is the real one
    const q = new CodebookQuantizer({
      kind: 'codebook',
      bits: 2,
      axis: 'token',
      groupSize: 1,
      norm: 'rms',
      codebook: f.levels,
    });
    let s = 0;
    const L = q.levels;
    for (const v of x) s += Math.min(...[...L].map((l) => (v - l) ** 2));
    expect(f.mse).toBeCloseTo(s / x.length, 9);
  });

  it('gives strictly ascending levels with few distinct samples; rejects NaN and empty input', () => {
    const f = fitCodebook(new Float32Array([1, 1, 1, 2, 2]), 3);
    expect(f.levels.length).toBe(8);
    for (let i = 1; i < 8; i++) expect(f.levels[i]!).toBeGreaterThan(f.levels[i - 1]!);
    expect(() => fitCodebook(new Float32Array([1, Number.NaN]), 2)).toThrow(NonFiniteError);
    expect(() => fitCodebook(new Float32Array(0), 2)).toThrow(InvalidArgumentError);
  });

  it('a codebook fitted on heavy-tailed values beats the Gaussian one (QAQ-style)', () => {
    const rng = new SeededRandom(22);
    const shape = { tokens: 256, kvHeads: 2, headDim: 64 };
    const x = new Float32Array(256 * 128);
    for (let i = 0; i < x.length; i++) {
      const u = rng.next() - 0.5; // Laplace
      x[i] = -Math.sign(u) * Math.log(1 - 2 * Math.abs(u));
    }
    const base: CodebookSpec = { kind: 'codebook', bits: 3, axis: 'token', groupSize: 64, norm: 'rms' };
    const gauss = new CodebookQuantizer(base);
    const fitted = new CodebookQuantizer({
      ...base,
      codebook: fitCodebook(gauss.normalize(x, shape), 3).levels,
    });
    const mG = mse(x, gauss.decode(gauss.encode(x, shape)));
    const mF = mse(x, fitted.decode(fitted.encode(x, shape)));
    expect(mF).toBeLessThan(mG * 0.97);
  });
});

describe('codebook quantizer', () => {
  it('each value decodes to its nearest level × the stored scale (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom<'channel' | 'token'>('channel', 'token'),
        fc.constantFrom<'absmax' | 'rms'>('absmax', 'rms'),
        fc.constantFrom(1, 4, 16),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 1000 }),
        (bits, axis, norm, groupSize, tokens, kvHeads, seed) => {
          const spec: CodebookSpec = { kind: 'codebook', bits, axis, groupSize, norm };
          const q = createQuantizer(spec) as CodebookQuantizer;
          const shape = { tokens, kvHeads, headDim: 16 };
          const C = kvHeads * 16;
          const x = new SeededRandom(seed).normalArray(tokens * C, 0.3, 5);
          const enc = q.encode(x, shape);
          const y = q.decode(enc);
          const L = q.levels;
          const dv = new DataView(enc.bytes.buffer, enc.bytes.byteOffset);
          const nGroups = axis === 'channel' ? Math.ceil(tokens / groupSize) * C : tokens * (C / groupSize);
          const codes = unpackBits(enc.bytes.subarray(2 * nGroups), bits, tokens * C);
          for (let t = 0; t < tokens; t++)
            for (let c = 0; c < C; c++) {
              const g =
                axis === 'channel'
                  ? Math.floor(t / groupSize) * C + c
                  : t * (C / groupSize) + Math.floor(c / groupSize);
              const s = fromFloat16Bits(dv.getUint16(2 * g, true));
              const v = x[t * C + c]!;
              const z = s === 0 ? 0 : Math.fround(v / s);
              let best = Number.POSITIVE_INFINITY;
              for (const l of L) best = Math.min(best, Math.abs(z - l));
              const code = codes[t * C + c]!;
              expect(Math.abs(z - L[code]!)).toBeLessThanOrEqual(best);
              expect(y[t * C + c]).toBe(Math.fround(L[code]! * s));
            }
        },
      ),
      { numRuns: 150, seed: 12 },
    );
  });

  it('rejects bad codebooks', () => {
    const base = { kind: 'codebook', bits: 2, axis: 'token', groupSize: 4, norm: 'rms' } as const;
    expect(() => createQuantizer({ ...base, codebook: [0, 1, 2] })).toThrow(InvalidArgumentError);
    expect(() => createQuantizer({ ...base, codebook: [0, 2, 1, 3] })).toThrow(InvalidArgumentError);
    expect(() => createQuantizer({ ...base, codebook: [0, 1, 2, Number.NaN] })).toThrow(InvalidArgumentError);
    expect(() => createQuantizer({ ...base, bits: 0 })).toThrow(InvalidArgumentError);
    expect(() => createQuantizer({ ...base, norm: 'max' as 'rms' })).toThrow(InvalidArgumentError);
  });

  it('2-bit rms codebook on N(0,1) groups of 128 is near the Lloyd-Max bound', () => {
    const shape = { tokens: 512, kvHeads: 1, headDim: 128 };
    const x = new SeededRandom(23).normalArray(512 * 128);
    const q = createQuantizer({ kind: 'codebook', bits: 2, axis: 'token', groupSize: 128, norm: 'rms' });
    const m = mse(x, q.decode(q.encode(x, shape)));
    expect(m).toBeLessThan(LLOYD_MAX_GAUSSIAN_MSE[2]! * 1.03);
  });
});

describe('codebook norm meanrms', () => {
  it('stores a mean per group: offsets cost nothing, bits are exact, round trip is close', async () => {
    const { CodebookQuantizer, SeededRandom } = await import('../../src/index.js');
    const rng = new SeededRandom(31);
    const shape = { tokens: 64, kvHeads: 2, headDim: 64 };
    const x = rng.normalArray(64 * 128);
    for (let t = 0; t < 64; t++) for (let c = 0; c < 128; c++) x[t * 128 + c]! += c % 3 === 0 ? 20 : -5; // channel offsets
    const mr = new CodebookQuantizer({
      kind: 'codebook',
      bits: 3,
      axis: 'channel',
      groupSize: 32,
      norm: 'meanrms',
    });
    const rms = new CodebookQuantizer({
      kind: 'codebook',
      bits: 3,
      axis: 'channel',
      groupSize: 32,
      norm: 'rms',
    });
    const err = (q: typeof mr) => {
      const enc = q.encode(x, shape);
      expect(enc.bytes.length).toBe(q.encodedBytes(shape));
      const y = q.decode(enc);
      let e = 0;
      for (let i = 0; i < x.length; i++) e += (x[i]! - y[i]!) ** 2;
      return e / x.length;
    };
    expect(mr.bitsPerValue(shape)).toBe(3 + 32 / 32);
    const eMr = err(mr);
    expect(eMr).toBeLessThan(0.06); // ≈ the 3-bit Lloyd-Max MSE of N(0,1), 0.0345, plus fp16 rounding of means
    expect(eMr).toBeLessThan(err(rms) / 10);
  });
});
