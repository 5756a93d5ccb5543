import { type PresetConfig, SeededRandom, createQuantizer } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { fitPresetCodebooks } from '../src/fit-codebooks.js';

const layout = { layers: 2, queryHeads: 4, kvHeads: 2, headDim: 64 };
const C = 128;

const preset: PresetConfig = {
  name: 'cb',
  description: 'codebooks',
  quantizers: {
    keys: {
      kind: 'outliers',
      axis: 'token',
      count: 1,
      inner: { kind: 'codebook', bits: 2, axis: 'channel', groupSize: 32, norm: 'meanrms' },
    },
    values: { kind: 'codebook', bits: 2, axis: 'token', groupSize: 32, norm: 'rms' },
  },
  predictor: 'none',
  policy: { sinkTokens: 0, bufferTokens: 128 },
};

describe('fitPresetCodebooks', () => {
  it('fits separate key and value codebooks that beat the Gaussian default on heavy-tailed data', () => {
    const rng = new SeededRandom(5);
    const tokens = 512;
    // Laplace-like data: a Gaussian times an exponential scale
    const laplace = () => {
      const x = rng.normalArray(tokens * C);
      for (let i = 0; i < x.length; i++) x[i]! *= -Math.log(1 - rng.next());
      return x;
    };
    const rec = { tokens, keys: [laplace(), laplace()], values: [laplace(), laplace()] };
    const fitted = fitPresetCodebooks(rec, preset, { layout });
    const kSpec = fitted.quantizers.keys;
    const vSpec = fitted.quantizers.values;
    expect(kSpec.kind === 'outliers' && kSpec.inner.kind === 'codebook' && kSpec.inner.codebook?.length).toBe(
      4,
    );
    expect(vSpec.kind === 'codebook' && vSpec.codebook?.length).toBe(4);
    const mse = (spec: typeof vSpec, x: Float32Array) => {
      const q = createQuantizer(spec);
      const shape = { tokens: 128, kvHeads: 2, headDim: 64 };
      let e = 0;
      for (let t = 0; t < tokens; t += 128) {
        const part = x.subarray(t * C, (t + 128) * C);
        const y = q.decode(q.encode(part, shape));
        for (let i = 0; i < part.length; i++) e += (part[i]! - y[i]!) ** 2;
      }
      return e;
    };
    const test = laplace();
    expect(mse(vSpec, test)).toBeLessThan(mse(preset.quantizers.values, test));
  });
});
