import {
  InvalidArgumentError,
  type KVLayout,
  SeededRandom,
  channels,
  createCache,
  validateAdapters,
} from '@kvq/core';
import { RopeTable } from '@kvq/decoder';
import { describe, expect, it } from 'vitest';
import {
  type FitAquaOptions,
  type KeyPredictor,
  type RecordedKV,
  type ValueInputs,
  fitAquaAdapters,
  fitRopeDiagonal,
  ropeChannelPairs,
} from '../src/fit-aqua.js';
import { applyLinear } from '../src/ridge.js';
import { fp16Residuals, uniform3Residuals } from './residual-presets.js';

// Tests of the fold-friendly designs: RoPE-commuting (complex-diagonal) key adapters, values from
// values only, anchor layers stored without prediction.

const layout: KVLayout = { layers: 5, queryHeads: 4, kvHeads: 2, headDim: 8 };
const C = channels(layout);
const D = layout.headDim;

type Style = 'interleaved' | 'neox';
/** a complex scalar [Re, Im] per KV head and RoPE pair: `cs[h][i]` */
type Complex = [number, number];

/** The test's own pairing (independent of ropeChannelPairs): [re, im] channels of RoPE pair i. */
function pairOf(style: Style, i: number, d = D): [number, number] {
  return style === 'interleaved' ? [2 * i, 2 * i + 1] : [i, i + d / 2];
}

/** Random values rounded to multiples of 1/256 (|x| < 8): exactly representable in fp16. */
function fp16Exact(rng: SeededRandom, n: number): Float32Array {
  const x = rng.normalArray(n);
  for (let i = 0; i < n; i++) x[i] = Math.max(-7.9, Math.min(7.9, Math.round(x[i]! * 256) / 256));
  return x;
}

/** y = c ⊙ x per head and pair, by explicit complex multiplication; `cs[h][i]` = [Re, Im]. */
function complexMultiply(x: Float32Array, tokens: number, cs: Complex[][], style: Style): Float32Array {
  const y = new Float32Array(x.length);
  for (let t = 0; t < tokens; t++)
    for (let h = 0; h < layout.kvHeads; h++)
      for (let i = 0; i < D / 2; i++) {
        const [pr, pi] = pairOf(style, i);
        const o = t * C + h * D;
        const [a, b] = cs[h]![i]!;
        const xr = x[o + pr]!;
        const xi = x[o + pi]!;
        y[o + pr] = a * xr - b * xi;
        y[o + pi] = a * xi + b * xr;
      }
  return y;
}

function randomComplex(rng: SeededRandom): Complex[][] {
  return Array.from({ length: layout.kvHeads }, () =>
    Array.from({ length: D / 2 }, (): Complex => [0.5 + 0.5 * rng.normal(), 0.5 * rng.normal()]),
  );
}

/** Per-head value maps V_l = V_{l−1}·Bᵀ (block-diagonal [C, C], 0.6 on the diagonal plus noise). */
function randomValueMap(rng: SeededRandom): Float32Array {
  const w = new Float32Array(C * C);
  for (let o = 0; o < C; o++)
    for (let i = 0; i < C; i++)
      if (Math.floor(o / D) === Math.floor(i / D)) w[o * C + i] = (o === i ? 0.6 : 0) + 0.15 * rng.normal();
  return w;
}

/** Planted: K_l = c_l ⊙ K_{l−1} (noiseless), V_l = V_{l−1}·B_lᵀ + b_l + noise·N(0, 1). */
function planted(tokens: number, seed: number, style: Style, valueNoise = 0.05) {
  const maps = new SeededRandom(seed);
  const rng = new SeededRandom(seed + 1000);
  const keys: Float32Array[] = [fp16Exact(rng, tokens * C)];
  const values: Float32Array[] = [fp16Exact(rng, tokens * C)];
  const keyMaps: Complex[][][] = [];
  const valueMaps: Float32Array[] = [];
  for (let l = 1; l < layout.layers; l++) {
    const cs = randomComplex(maps);
    keys.push(complexMultiply(keys[l - 1]!, tokens, cs, style));
    const b = randomValueMap(maps);
    const v = applyLinear({ weight: b, bias: maps.normalArray(C) }, values[l - 1]!, tokens, C);
    for (let i = 0; i < v.length; i++) v[i]! += valueNoise * rng.normal();
    values.push(v);
    keyMaps.push(cs);
    valueMaps.push(b);
  }
  const rec: RecordedKV = { tokens, keys, values };
  return { rec, keyMaps, valueMaps };
}

/** Unstructured random K/V (nothing planted), for the properties that must hold for any fit. */
function randomRec(tokens: number, seed: number): RecordedKV {
  const rng = new SeededRandom(seed);
  const keys = [rng.normalArray(tokens * C)];
  const values = [rng.normalArray(tokens * C)];
  for (let l = 1; l < layout.layers; l++) {
    const k = rng.normalArray(tokens * C);
    const v = rng.normalArray(tokens * C);
    for (let i = 0; i < k.length; i++) {
      k[i]! += 0.7 * keys[l - 1]![i]! + 0.3 * keys[l - 1]![i ^ 3]!;
      v[i]! += 0.5 * values[l - 1]![i]! + 0.4 * k[i ^ 1]!;
    }
    keys.push(k);
    values.push(v);
  }
  return { tokens, keys, values };
}

const fit = (rec: RecordedKV, opts: Partial<FitAquaOptions> = {}) =>
  fitAquaAdapters(rec, { layout, preset: fp16Residuals, model: { name: 'synthetic' }, ...opts });

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function relDiff(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

const allZero = (x: Float32Array) => x.every((v) => v === 0);

describe('ropeChannelPairs', () => {
  it('pairs adjacent channels (interleaved) or i with i + dims/2 (neox); channels past dims unrotated', () => {
    expect(ropeChannelPairs(8, { style: 'interleaved' })).toEqual({
      pairs: [
        [0, 1],
        [2, 3],
        [4, 5],
        [6, 7],
      ],
      unrotated: [],
    });
    expect(ropeChannelPairs(8, { style: 'neox' }).pairs).toEqual([
      [0, 4],
      [1, 5],
      [2, 6],
      [3, 7],
    ]);
    expect(ropeChannelPairs(8, { style: 'neox', dims: 4 })).toEqual({
      pairs: [
        [0, 2],
        [1, 3],
      ],
      unrotated: [4, 5, 6, 7],
    });
  });
});

describe('fitRopeDiagonal', () => {
  for (const style of ['interleaved', 'neox'] as const) {
    it(`recovers a planted complex-diagonal map exactly on noiseless data (${style})`, () => {
      const tokens = 200;
      const rng = new SeededRandom(style === 'neox' ? 5 : 4);
      const x = rng.normalArray(tokens * C);
      const cs = randomComplex(rng);
      const y = complexMultiply(x, tokens, cs, style);
      const { weight, bias } = fitRopeDiagonal(x, y, tokens, layout, { style }, 0);
      expect(allZero(bias)).toBe(true);
      for (let h = 0; h < layout.kvHeads; h++)
        for (let i = 0; i < D / 2; i++) {
          const [pr, pi] = pairOf(style, i).map((j) => h * D + j) as [number, number];
          const [a, b] = cs[h]![i]!;
          expect(Math.abs(weight[pr * C + pr]! - a)).toBeLessThan(1e-6);
          expect(Math.abs(weight[pi * C + pi]! - a)).toBeLessThan(1e-6);
          expect(Math.abs(weight[pi * C + pr]! - b)).toBeLessThan(1e-6);
          expect(Math.abs(weight[pr * C + pi]! + b)).toBeLessThan(1e-6);
        }
      // exactly four non-zeros per pair, nothing else
      expect(weight.filter((w) => w !== 0).length).toBe(4 * (C / 2));
      // the independent computation and the stored map predict the same
      expect(maxAbsDiff(applyLinear({ weight, bias }, x, tokens, C), y)).toBeLessThan(1e-5);
      // with the other pairing it cannot: the fit must depend on the pairing
      const other = style === 'neox' ? 'interleaved' : 'neox';
      const wrong = fitRopeDiagonal(x, y, tokens, layout, { style: other }, 0);
      expect(relDiff(applyLinear(wrong, x, tokens, C), y)).toBeGreaterThan(0.3);
    });
  }

  it('channels past rope.dims get one real scalar each (least squares)', () => {
    const tokens = 100;
    const rng = new SeededRandom(8);
    const x = rng.normalArray(tokens * C);
    const y = new Float32Array(x.length);
    for (let t = 0; t < tokens; t++)
      for (let j = 0; j < C; j++) y[t * C + j] = (j % D >= 4 ? 0.25 * j : 0) * x[t * C + j]!;
    const { weight } = fitRopeDiagonal(x, y, tokens, layout, { style: 'interleaved', dims: 4 }, 0);
    for (let j = 0; j < C; j++) if (j % D >= 4) expect(weight[j * C + j]).toBeCloseTo(0.25 * j, 5);
  });
});

describe('fitAquaAdapters: fold-friendly designs', () => {
  it("keyPredictor 'rope-diagonal' recovers planted complex-diagonal key maps in every layer, no bias", () => {
    for (const style of ['interleaved', 'neox'] as const) {
      const { rec, keyMaps } = planted(512, 31, style);
      const { adapters, report } = fit(rec, {
        keyPredictor: 'rope-diagonal',
        rope: { style },
        lambdaScale: 0,
      });
      validateAdapters(adapters, layout);
      for (let l = 1; l < layout.layers; l++) {
        const a = adapters.layers[l]!;
        expect(allZero(a.keyBias)).toBe(true);
        const cs = keyMaps[l - 1]!;
        for (let h = 0; h < layout.kvHeads; h++)
          for (let i = 0; i < D / 2; i++) {
            const [pr, pi] = pairOf(style, i).map((j) => h * D + j) as [number, number];
            expect(Math.abs(a.keyWeight[pr * C + pr]! - cs[h]![i]![0])).toBeLessThan(1e-5);
            expect(Math.abs(a.keyWeight[pi * C + pr]! - cs[h]![i]![1])).toBeLessThan(1e-5);
          }
        expect(report[l]!.keyExplainedVariance!).toBeGreaterThan(1 - 1e-6);
      }
    }
  });

  it('the fitted rope-diagonal map commutes with RoPE at random positions; a linear per-head map does not', () => {
    const rec = randomRec(512, 41);
    const tokens = 64;
    const rng = new SeededRandom(42);
    for (const style of ['interleaved', 'neox'] as const) {
      const rope = new RopeTable({ theta: 10000, dims: D, style }, D);
      const diag = fitAquaAdapters(rec, {
        layout,
        preset: uniform3Residuals,
        model: { name: 'synthetic' },
        keyPredictor: 'rope-diagonal',
        rope: { style },
      }).adapters;
      const linear = fitAquaAdapters(rec, {
        layout,
        preset: uniform3Residuals,
        model: { name: 'synthetic' },
        structure: 'per-kv-head',
      }).adapters;
      for (let l = 1; l < layout.layers; l++) {
        const k = rng.normalArray(tokens * C);
        const start = Math.floor(rng.next() * 4000);
        const gap = (w: Float32Array) => {
          const map = { weight: w, bias: new Float32Array(C) };
          // RoPE after the map vs the map after RoPE, tokens at positions start…start + 63
          const after = rope.apply(applyLinear(map, k, tokens, C), tokens, layout.kvHeads, start);
          const before = applyLinear(map, rope.apply(k.slice(), tokens, layout.kvHeads, start), tokens, C);
          return maxAbsDiff(after, before);
        };
        expect(gap(diag.layers[l]!.keyWeight)).toBeLessThan(1e-5);
        expect(gap(linear.layers[l]!.keyWeight)).toBeGreaterThan(1e-2);

        // hence folding into the query is exact: q·RoPE_t(W·k_t) = (Wᵀ·q)·RoPE_t(k_t)
        const w = diag.layers[l]!.keyWeight;
        const q = rng.normalArray(C);
        const wq = new Float32Array(C);
        for (let i = 0; i < C; i++) for (let o = 0; o < C; o++) wq[i]! += w[o * C + i]! * q[o]!;
        const direct = rope.apply(
          applyLinear({ weight: w, bias: new Float32Array(C) }, k, tokens, C),
          tokens,
          2,
          start,
        );
        const rotated = rope.apply(k.slice(), tokens, 2, start);
        for (let t = 0; t < tokens; t++) {
          let s1 = 0;
          let s2 = 0;
          for (let j = 0; j < C; j++) {
            s1 += q[j]! * direct[t * C + j]!;
            s2 += wq[j]! * rotated[t * C + j]!;
          }
          expect(Math.abs(s1 - s2)).toBeLessThan(1e-4);
        }
      }
    }
  });

  it("valueInputs 'values': the key columns of valueWeight are exactly zero and planted V-from-V maps are recovered", () => {
    const { rec, valueMaps } = planted(2048, 51, 'interleaved', 0.002);
    for (const structure of ['full', 'per-kv-head'] as const) {
      const { adapters, report } = fit(rec, { valueInputs: 'values', structure, lambdaScale: 1e-7 });
      const kv = fit(rec, { structure, lambdaScale: 1e-7 }).adapters;
      for (let l = 1; l < layout.layers; l++) {
        const w = adapters.layers[l]!.valueWeight;
        const vPart = new Float32Array(C * C);
        let keyColumnsOfKV = 0;
        for (let o = 0; o < C; o++) {
          for (let i = 0; i < C; i++) {
            expect(w[o * 2 * C + i]).toBe(0);
            keyColumnsOfKV += Math.abs(kv.layers[l]!.valueWeight[o * 2 * C + i]!);
          }
          vPart.set(w.subarray(o * 2 * C + C, (o + 1) * 2 * C), o * C);
        }
        // the AQUA-KV fit does use the keys (they carry the same information here, collinear)
        expect(keyColumnsOfKV).toBeGreaterThan(1e-3);
        expect(relDiff(vPart, valueMaps[l - 1]!)).toBeLessThan(0.02);
        expect(report[l]!.valueExplainedVariance!).toBeGreaterThan(0.98);
      }
    }
  });

  it('anchor layers have zero weights and biases, null EV, and the cache stores them as a no-predictor cache does', () => {
    const rec = randomRec(256, 61);
    const opts = {
      preset: uniform3Residuals,
      keyPredictor: 'rope-diagonal' as const,
      rope: { style: 'interleaved' as const },
      valueInputs: 'values' as const,
      structure: 'per-kv-head' as const,
      anchorEvery: 2,
    };
    const { adapters, report } = fit(rec, opts);
    validateAdapters(adapters, layout);
    const none = fit(rec, { preset: uniform3Residuals, anchorEvery: 1 });
    for (let l = 1; l < layout.layers; l++) {
      const a = adapters.layers[l]!;
      const anchor = l % 2 === 0;
      for (const x of [a.keyWeight, a.keyBias, a.valueWeight, a.valueBias].slice(0, anchor ? 4 : 0))
        expect(allZero(x)).toBe(true);
      if (!anchor) expect(allZero(a.keyWeight) || allZero(a.valueWeight)).toBe(false);
      expect(report[l]!.keyExplainedVariance === null).toBe(anchor);
      expect(report[l]!.valueExplainedVariance === null).toBe(anchor);
      // anchors are quantized directly, as with no predictor anywhere
      if (anchor) {
        expect(report[l]!.keyRelError).toBe(none.report[l]!.keyRelError);
        expect(report[l]!.valueRelError).toBe(none.report[l]!.valueRelError);
      } else expect(report[l]!.keyRelError).not.toBe(none.report[l]!.keyRelError);
    }
    for (const a of none.adapters.layers.slice(1))
      for (const x of [a!.keyWeight, a!.keyBias, a!.valueWeight, a!.valueBias]) expect(allZero(x)).toBe(true);

    // the core cache: zero adapters reconstruct exactly what a cache without predictor does
    const plain = createCache({
      layout,
      preset: { ...uniform3Residuals, name: 'test-fold-u3-none', predictor: 'none' },
    });
    const anchored = createCache({ layout, preset: uniform3Residuals, adapters });
    for (let l = 0; l < layout.layers; l++) {
      plain.append(l, rec.keys[l]!, rec.values[l]!, rec.tokens);
      anchored.append(l, rec.keys[l]!, rec.values[l]!, rec.tokens);
    }
    for (let l = 0; l < layout.layers; l++) {
      const p = plain.reconstruct(l);
      const q = anchored.reconstruct(l);
      if (l % 2 === 0) {
        expect(maxAbsDiff(p.keys, q.keys)).toBe(0);
        expect(maxAbsDiff(p.values, q.values)).toBe(0);
      } else expect(maxAbsDiff(p.keys, q.keys)).toBeGreaterThan(0);
    }
  });

  it("keyPredictor 'none': zero key weights and bias, null key EV, keys quantized directly", () => {
    const rec = randomRec(256, 71);
    const { adapters, report } = fit(rec, {
      preset: uniform3Residuals,
      keyPredictor: 'none',
      valueInputs: 'values',
    });
    const none = fit(rec, { preset: uniform3Residuals, anchorEvery: 1 });
    for (let l = 1; l < layout.layers; l++) {
      expect(allZero(adapters.layers[l]!.keyWeight)).toBe(true);
      expect(allZero(adapters.layers[l]!.keyBias)).toBe(true);
      expect(allZero(adapters.layers[l]!.valueWeight)).toBe(false);
      expect(report[l]!.keyExplainedVariance).toBeNull();
      expect(report[l]!.valueExplainedVariance).not.toBeNull();
      expect(report[l]!.keyRelError).toBe(none.report[l]!.keyRelError);
    }
  });

  it('records the options in calibration', () => {
    const rec = randomRec(64, 81);
    expect(fit(rec).adapters.calibration).toMatchObject({
      structure: 'full',
      keyPredictor: 'linear',
      valueInputs: 'keys-and-values',
    });
    expect(fit(rec).adapters.calibration).not.toHaveProperty('anchorEvery');
    const cal = fit(rec, {
      structure: 'per-kv-head',
      keyPredictor: 'rope-diagonal',
      rope: { style: 'neox', dims: 6 },
      valueInputs: 'values',
      anchorEvery: 4,
    }).adapters.calibration;
    expect(cal).toMatchObject({
      structure: 'per-kv-head',
      keyPredictor: 'rope-diagonal',
      valueInputs: 'values',
      anchorEvery: 4,
      rope: { style: 'neox', dims: 6 },
    });
  });

  it('rejects bad options with InvalidArgumentError', () => {
    const rec = randomRec(64, 91);
    const bad = (opts: Partial<FitAquaOptions>, message: RegExp) => {
      expect(() => fit(rec, opts)).toThrow(InvalidArgumentError);
      expect(() => fit(rec, opts)).toThrow(message);
    };
    for (const anchorEvery of [0, -2, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '2' as unknown as number])
      bad({ anchorEvery }, /anchorEvery must be a positive integer/);
    bad({ keyPredictor: 'dense' as KeyPredictor }, /unknown keyPredictor "dense"/);
    bad({ valueInputs: 'keys' as ValueInputs }, /unknown valueInputs "keys"/);
    bad({ keyPredictor: 'rope-diagonal' }, /needs the model's RoPE pairing/);
    bad({ keyPredictor: 'rope-diagonal', rope: { style: 'gptj' as 'neox' } }, /rope.style must be/);
    bad(
      { keyPredictor: 'rope-diagonal', rope: { style: 'neox', dims: 5 } },
      /rope.dims must be an even integer/,
    );
    bad(
      { keyPredictor: 'rope-diagonal', rope: { style: 'neox', dims: 10 } },
      /rope.dims must be an even integer/,
    );
    // an odd headDim has no RoPE pairs
    const odd: KVLayout = { layers: 2, queryHeads: 2, kvHeads: 1, headDim: 7 };
    const rng = new SeededRandom(1);
    const oddRec = {
      tokens: 32,
      keys: [rng.normalArray(224), rng.normalArray(224)],
      values: [rng.normalArray(224), rng.normalArray(224)],
    };
    expect(() =>
      fitAquaAdapters(oddRec, {
        layout: odd,
        preset: fp16Residuals,
        model: { name: 'synthetic' },
        keyPredictor: 'rope-diagonal',
        rope: { style: 'interleaved' },
      }),
    ).toThrow(/rope-diagonal keys need an even headDim.*headDim 7/);
    // the same options are fine with an even headDim, and rope is ignored without rope-diagonal
    expect(() => fit(rec, { keyPredictor: 'rope-diagonal', rope: { style: 'neox', dims: 4 } })).not.toThrow();
    expect(() => fit(rec, { anchorEvery: 100 })).not.toThrow();
  });
});
