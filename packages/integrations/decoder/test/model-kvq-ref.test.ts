import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ArrayKVCache, LlamaModel, greedyGenerate, readGgufFile } from '../src/index.js';
import { meanNll } from './helpers/nll.js';
import { REF_F16, REF_FIXTURES } from './helpers/paths.js';

interface Fixtures {
  prompts: { text: string; input_ids: number[]; greedy_ids: number[] }[];
  wikitext: { first_windows_ids: number[][]; per_window: { start: number; nll: number }[] };
}
const fixtures = JSON.parse(readFileSync(REF_FIXTURES, 'utf8')) as Fixtures;

let model: LlamaModel;
beforeAll(async () => {
  model = LlamaModel.fromGguf(await readGgufFile(REF_F16));
});

describe('parity with the kvq-ref-35M golden fixtures (f16 GGUF)', () => {
  it('reads the architecture of MODEL.md', () => {
    expect(model.config).toMatchObject({
      layers: 12,
      hidden: 512,
      ffn: 1024,
      queryHeads: 8,
      kvHeads: 2,
      headDim: 64,
      vocab: 16384,
      contextLength: 1024,
    });
    expect(model.weights.tiedOutput).toBe(true);
  });

  it('greedy: the 60 tokens of each of the 3 prompts are identical', { timeout: 120_000 }, async () => {
    for (const p of fixtures.prompts) {
      const out = await greedyGenerate(
        model,
        p.input_ids,
        p.greedy_ids.length,
        new ArrayKVCache(model.layout),
      );
      expect(out).toEqual(p.greedy_ids);
    }
  });

  it(
    'WikiText-2 windows 0-3: mean NLL within 1e-3 of HF fp32, fed in 32-token chunks',
    { timeout: 240_000 },
    async () => {
      const V = model.config.vocab;
      for (const [w, ids] of fixtures.wikitext.first_windows_ids.entries()) {
        expect(fixtures.wikitext.per_window[w]!.start).toBe(w * 1024);
        const cache = new ArrayKVCache(model.layout);
        const logits = new Float32Array(ids.length * V);
        for (let i = 0; i < ids.length; i += 32)
          logits.set(await model.forward(ids.slice(i, i + 32), cache), i * V);
        const nll = meanNll(logits, ids, V);
        expect(Math.abs(nll - fixtures.wikitext.per_window[w]!.nll), `window ${w}: ${nll}`).toBeLessThan(
          1e-3,
        );
      }
    },
  );
});
