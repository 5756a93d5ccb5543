/**
 * Calibration on a few hundred tokens of the real model (kvq-ref-35M, War and Peace — never the
 * WikiText evaluation text) yields adapters that lower the residual energy vs no predictor on
 * held-out tokens.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PresetConfig } from '@kvq/core';
import { LlamaModel, readGgufFile, tokenizerFromGguf } from '@kvq/decoder';
import { dataDir, modelsDir } from '@kvq/decoder/node';
import { describe, expect, it } from 'vitest';
import { fitAquaAdapters } from '../src/fit-aqua.js';
import { recordKV } from '../src/record.js';
import { applyLinear } from '../src/ridge.js';

const modelPath = join(modelsDir(), 'kvq-ref-35M', 'model-f16.gguf');
const textPath = join(dataDir(), 'war_and_peace.gutenberg2600.txt');
const have = existsSync(modelPath) && existsSync(textPath);

const preset: PresetConfig = {
  name: 'test-aqua-higgs-2',
  description: 'HIGGS 2-bit residuals, layer 0 at 4 bits',
  quantizers: {
    keys: { kind: 'higgs', bits: 2, dim: 1, block: 64, seed: 1 },
    values: { kind: 'higgs', bits: 2, dim: 1, block: 64, seed: 2 },
  },
  layerQuantizers: [
    {
      keys: { kind: 'higgs', bits: 4, dim: 1, block: 64, seed: 1 },
      values: { kind: 'higgs', bits: 4, dim: 1, block: 64, seed: 2 },
    },
  ],
  predictor: 'aqua',
  policy: { sinkTokens: 4, bufferTokens: 128 },
};

describe.skipIf(!have)(`calibration on kvq-ref-35M (needs ${modelPath} and ${textPath})`, () => {
  it('adapters fitted on 768 tokens lower held-out residual energy in every layer', async () => {
    const file = await readGgufFile(modelPath);
    const model = LlamaModel.fromGguf(file);
    const tok = tokenizerFromGguf(file.metadata);
    const text = readFileSync(textPath, 'utf8').slice(200_000, 212_000);
    const ids = tok.encode(text);
    expect(ids.length).toBeGreaterThan(1024);
    const train = await recordKV(model, ids.slice(0, 768), { windowTokens: 768 });
    const held = await recordKV(model, ids.slice(768, 1024), { windowTokens: 256 });
    const { adapters, report } = fitAquaAdapters(train, {
      layout: model.layout,
      preset,
      model: { name: 'kvq-ref-35M' },
    });
    const c = model.layout.kvHeads * model.layout.headDim;
    for (let l = 1; l < model.layout.layers; l++) {
      const a = adapters.layers[l]!;
      const pred = applyLinear({ weight: a.keyWeight, bias: a.keyBias }, held.keys[l - 1]!, held.tokens, c);
      let res = 0;
      let raw = 0;
      for (let i = 0; i < pred.length; i++) {
        res += (held.keys[l]![i]! - pred[i]!) ** 2;
        raw += held.keys[l]![i]! ** 2;
      }
      expect(res, `layer ${l} keys: residual energy vs raw`).toBeLessThan(raw);
      expect(report[l]!.keyExplainedVariance!).toBeGreaterThan(0);
    }
  }, 300_000);
});
