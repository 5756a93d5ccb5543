import {
  InvalidArgumentError,
  type KVLayout,
  SeededRandom,
  channels,
  validateAdapters,
  valuePredictorInput,
} from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { type AdapterStructure, fitAquaAdapters } from '../src/fit-aqua.js';
import { applyLinear } from '../src/ridge.js';
import { fp16Residuals, uniform3Residuals } from './residual-presets.js';

const layout: KVLayout = { layers: 3, queryHeads: 4, kvHeads: 2, headDim: 8 };
const C = channels(layout);

/**
 * A random `[C, inParts·C]` map. Block-diagonal: zero except where output head = input head (input
 * channel i is head ⌊(i mod C)/d⌋), 0.6 on the diagonal of each part plus N(0, 0.3²/fan-in), so the
 * planted tensors stay well conditioned and the weights are identifiable. Otherwise dense
 * N(0, 1/fan-in), mixing all heads.
 */
function randomMap(rng: SeededRandom, lay: KVLayout, inParts: number, blockDiagonal: boolean): Float32Array {
  const c = channels(lay);
  const d = lay.headDim;
  const inDim = inParts * c;
  if (!blockDiagonal) return rng.normalArray(c * inDim, 0, 1 / Math.sqrt(inDim));
  const w = rng.normalArray(c * inDim, 0, 0.3 / Math.sqrt(inParts * d));
  for (let o = 0; o < c; o++) {
    for (let i = 0; i < inDim; i++) {
      if (Math.floor(o / d) !== Math.floor((i % c) / d)) w[o * inDim + i] = 0;
      else if (o === i % c) w[o * inDim + i]! += 0.6;
    }
  }
  return w;
}

/**
 * Planted AQUA relations: K_l = K_{l−1}·Akᵀ + bk + noise, V_l = [K_l, V_{l−1}]·Avᵀ + noise, with
 * block-diagonal (per KV head) or head-mixing dense maps.
 */
function planted(lay: KVLayout, tokens: number, seed: number, blockDiagonal: boolean) {
  const c = channels(lay);
  const maps = new SeededRandom(seed);
  const rng = new SeededRandom(seed + 1000);
  const keys: Float32Array[] = [rng.normalArray(tokens * c)];
  const values: Float32Array[] = [rng.normalArray(tokens * c)];
  const keyMaps: Float32Array[] = [];
  const valueMaps: Float32Array[] = [];
  for (let l = 1; l < lay.layers; l++) {
    const ak = randomMap(maps, lay, 1, blockDiagonal);
    const av = randomMap(maps, lay, 2, blockDiagonal);
    const k = applyLinear({ weight: ak, bias: maps.normalArray(c) }, keys[l - 1]!, tokens, c);
    for (let i = 0; i < k.length; i++) k[i]! += 0.05 * rng.normal();
    const x = valuePredictorInput(k, values[l - 1]!, tokens, c);
    const v = applyLinear({ weight: av, bias: new Float32Array(c) }, x, tokens, 2 * c);
    for (let i = 0; i < v.length; i++) v[i]! += 0.05 * rng.normal();
    keys.push(k);
    values.push(v);
    keyMaps.push(ak);
    valueMaps.push(av);
  }
  return { rec: { tokens, keys, values }, keyMaps, valueMaps };
}

const fit = (
  rec: ReturnType<typeof planted>['rec'],
  structure: AdapterStructure,
  preset = fp16Residuals,
  lay = layout,
  lambdaScale?: number,
) => fitAquaAdapters(rec, { layout: lay, preset, model: { name: 'synthetic' }, structure, lambdaScale });

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** ‖a − b‖ / ‖b‖ (Frobenius) */
function relDiff(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

describe('fitAquaAdapters structure', () => {
  it("per-kv-head weights are exactly zero off each head's blocks (and not on them)", () => {
    const { rec } = planted(layout, 1024, 3, false);
    const { adapters } = fit(rec, 'per-kv-head', uniform3Residuals);
    expect(adapters.calibration?.structure).toBe('per-kv-head');
    expect(fit(rec, 'full', uniform3Residuals).adapters.calibration?.structure).toBe('full');
    validateAdapters(adapters, layout);
    const d = layout.headDim;
    for (const a of adapters.layers.slice(1)) {
      let onBlock = 0;
      for (let o = 0; o < C; o++) {
        for (let i = 0; i < C; i++) {
          const w = a!.keyWeight[o * C + i]!;
          if (Math.floor(o / d) === Math.floor(i / d)) onBlock += Math.abs(w);
          else expect(w).toBe(0);
        }
        for (let i = 0; i < 2 * C; i++) {
          const w = a!.valueWeight[o * 2 * C + i]!;
          // input i < C is K_l's channel i, i ≥ C is V_{l−1}'s channel i − C
          if (Math.floor(o / d) === Math.floor((i % C) / d)) onBlock += Math.abs(w);
          else expect(w).toBe(0);
        }
      }
      expect(onBlock).toBeGreaterThan(1);
    }
  });

  it('with a block-diagonal planted map, both structures recover it', () => {
    const { rec, keyMaps, valueMaps } = planted(layout, 8192, 7, true);
    // a tiny ridge: the default λ (1e-3 × mean diag of the uncentred Gram) visibly shrinks the
    // weights of these offset, partly collinear inputs (K_l and V_{l−1} share K_{l−1}), which is
    // not what this test is about
    const full = fit(rec, 'full', fp16Residuals, layout, 1e-7);
    const perHead = fit(rec, 'per-kv-head', fp16Residuals, layout, 1e-7);
    for (const r of [full, perHead]) {
      for (let l = 1; l < layout.layers; l++) {
        const a = r.adapters.layers[l]!;
        expect(relDiff(a.keyWeight, keyMaps[l - 1]!)).toBeLessThan(0.02);
        expect(relDiff(a.valueWeight, valueMaps[l - 1]!)).toBeLessThan(0.02);
        expect(r.report[l]!.keyExplainedVariance!).toBeGreaterThan(0.98);
        expect(r.report[l]!.valueExplainedVariance!).toBeGreaterThan(0.98);
      }
    }
    for (let l = 1; l < layout.layers; l++) {
      expect(
        Math.abs(full.report[l]!.keyExplainedVariance! - perHead.report[l]!.keyExplainedVariance!),
      ).toBeLessThan(1e-3);
      expect(
        Math.abs(full.report[l]!.valueExplainedVariance! - perHead.report[l]!.valueExplainedVariance!),
      ).toBeLessThan(1e-3);
    }
  });

  it('with a head-mixing planted map, the full fit explains clearly more variance than per-kv-head', () => {
    const { rec } = planted(layout, 2048, 13, false);
    for (const preset of [fp16Residuals, uniform3Residuals]) {
      const full = fit(rec, 'full', preset).report;
      const perHead = fit(rec, 'per-kv-head', preset).report;
      for (let l = 1; l < layout.layers; l++) {
        expect(full[l]!.keyExplainedVariance!).toBeGreaterThan(0.9);
        expect(full[l]!.valueExplainedVariance!).toBeGreaterThan(0.9);
        expect(perHead[l]!.keyExplainedVariance!).toBeLessThan(full[l]!.keyExplainedVariance! - 0.2);
        expect(perHead[l]!.valueExplainedVariance!).toBeLessThan(full[l]!.valueExplainedVariance! - 0.05);
        // and the residual the quantizer must carry is larger
        expect(perHead[l]!.keyRelError).toBeGreaterThan(full[l]!.keyRelError);
      }
    }
  });

  it('with one KV head both structures give the same adapters', () => {
    const one: KVLayout = { layers: 3, queryHeads: 2, kvHeads: 1, headDim: 16 };
    const { rec } = planted(one, 1024, 21, false);
    const full = fit(rec, 'full', uniform3Residuals, one);
    const perHead = fit(rec, 'per-kv-head', uniform3Residuals, one);
    for (let l = 1; l < one.layers; l++) {
      const a = full.adapters.layers[l]!;
      const b = perHead.adapters.layers[l]!;
      expect(maxAbsDiff(a.keyWeight, b.keyWeight)).toBeLessThan(1e-5);
      expect(maxAbsDiff(a.keyBias, b.keyBias)).toBeLessThan(1e-5);
      expect(maxAbsDiff(a.valueWeight, b.valueWeight)).toBeLessThan(1e-5);
      expect(maxAbsDiff(a.valueBias, b.valueBias)).toBeLessThan(1e-5);
      expect(perHead.report[l]!.keyExplainedVariance).toBeCloseTo(full.report[l]!.keyExplainedVariance!, 6);
    }
  });

  it('validates the structure and checks tokens against the per-head size', () => {
    const { rec } = planted(layout, 24, 1, false);
    const bad = 'dense' as AdapterStructure;
    expect(() => fit(rec, bad)).toThrow(InvalidArgumentError);
    expect(() => fit(rec, bad)).toThrow(/unknown structure "dense"/);
    // 24 tokens: too few for the full 16×32 value map, enough for per-head 8×16 blocks
    expect(() => fit(rec, 'full')).toThrow(/too few to fit 16×32 adapters \(need ≥ 32\)/);
    expect(() => fit(rec, 'per-kv-head')).not.toThrow();
    const tiny = planted(layout, 12, 1, false).rec;
    expect(() => fit(tiny, 'per-kv-head')).toThrow(
      /too few to fit per-kv-head 8×16 adapter blocks \(need ≥ 16\)/,
    );
  });
});
