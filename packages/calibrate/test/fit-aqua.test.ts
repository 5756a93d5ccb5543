import { SeededRandom } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { fitAquaAdapters } from '../src/fit-aqua.js';
import { applyLinear } from '../src/ridge.js';
import { uniform3Residuals } from './residual-presets.js';

const layout = { layers: 3, queryHeads: 4, kvHeads: 2, headDim: 8 };
const C = layout.kvHeads * layout.headDim;

const preset = uniform3Residuals;

/** Layer l's keys are a planted linear map (fixed by `mapSeed`) of layer l−1's, plus small noise; values likewise. */
function planted(tokens: number, mapSeed: number, dataSeed = mapSeed + 1000) {
  const maps = new SeededRandom(mapSeed);
  const rng = new SeededRandom(dataSeed);
  const keys: Float32Array[] = [rng.normalArray(tokens * C)];
  const values: Float32Array[] = [rng.normalArray(tokens * C)];
  for (let l = 1; l < layout.layers; l++) {
    const a = maps.normalArray(C * C, 0, 1 / Math.sqrt(C));
    const bias = maps.normalArray(C);
    const bmat = maps.normalArray(C * C, 0, 1 / Math.sqrt(C));
    const k = applyLinear({ weight: a, bias }, keys[l - 1]!, tokens, C);
    for (let i = 0; i < k.length; i++) k[i]! += 0.05 * rng.normal();
    const v = applyLinear({ weight: bmat, bias: new Float32Array(C) }, values[l - 1]!, tokens, C);
    for (let i = 0; i < v.length; i++) v[i]! += 0.05 * rng.normal();
    keys.push(k);
    values.push(v);
  }
  return { tokens, keys, values };
}

describe('fitAquaAdapters', () => {
  it('fits predictors that explain a planted relation and lower error vs no predictor', () => {
    const rec = planted(1024, 11);
    const { adapters, report } = fitAquaAdapters(rec, { layout, preset, model: { name: 'synthetic' } });
    expect(adapters.layers[0]).toBeNull();
    expect(adapters.layers).toHaveLength(3);
    for (const r of report.slice(1)) {
      expect(r.keyExplainedVariance!).toBeGreaterThan(0.95);
      expect(r.valueExplainedVariance!).toBeGreaterThan(0.95);
    }
    // without a predictor, the same quantizer on the raw tensors
    const none = fitAquaAdapters(rec, { layout, preset, model: { name: 'synthetic' } }).report[0]!;
    for (const r of report.slice(1)) expect(r.keyRelError).toBeLessThan(none.keyRelError / 4);
  });

  it('held-out tokens: residual energy after prediction is far below the raw energy', () => {
    const train = planted(1024, 5);
    const { adapters } = fitAquaAdapters(train, { layout, preset, model: { name: 'synthetic' } });
    const test = planted(256, 5, 99); // same planted maps, fresh tokens
    const l1 = adapters.layers[1]!;
    const pred = applyLinear({ weight: l1.keyWeight, bias: l1.keyBias }, test.keys[0]!, 256, C);
    let res = 0;
    let raw = 0;
    for (let i = 0; i < pred.length; i++) {
      res += (test.keys[1]![i]! - pred[i]!) ** 2;
      raw += test.keys[1]![i]! ** 2;
    }
    expect(res / raw).toBeLessThan(0.05);
  });

  it('rejects too few tokens and wrong layer counts with clear errors', () => {
    const rec = planted(16, 1);
    expect(() => fitAquaAdapters(rec, { layout, preset, model: { name: 'x' } })).toThrow(/too few/);
    expect(() =>
      fitAquaAdapters({ ...rec, keys: rec.keys.slice(1) }, { layout, preset, model: { name: 'x' } }),
    ).toThrow(/3 layers/);
  });
});
