import { readFileSync } from 'node:fs';
import { SeededRandom } from '@kvq/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ArrayKVCache,
  GgufFile,
  LlamaModel,
  UnsupportedArchitectureError,
  greedyGenerate,
  readGgufFile,
  readLlamaConfig,
} from '../src/index.js';
import { STORIES, STORIES_REF_IDS } from './helpers/paths.js';
import { f32Bytes, writeGguf } from './helpers/write-gguf.js';

let model: LlamaModel;
beforeAll(async () => {
  model = LlamaModel.fromGguf(await readGgufFile(STORIES));
});

describe('reference decoder on stories260K', () => {
  it('reads the hyperparameters (GQA 8/4, head dim 8, adjacent-pair RoPE)', () => {
    expect(model.config).toMatchObject({
      layers: 5,
      hidden: 64,
      ffn: 172,
      queryHeads: 8,
      kvHeads: 4,
      headDim: 8,
      vocab: 512,
    });
    expect(model.config.rope).toMatchObject({ theta: 10000, dims: 8, style: 'interleaved' });
    expect(model.weights.tiedOutput).toBe(false);
  });

  it('greedy decoding from BOS reproduces the 80 reference tokens', async () => {
    const ref = JSON.parse(readFileSync(STORIES_REF_IDS, 'utf8')) as number[];
    const out = await greedyGenerate(model, [ref[0]!], ref.length - 1, new ArrayKVCache(model.layout));
    expect([ref[0], ...out]).toEqual(ref);
  });

  it('chunked decoding through a cache gives the logits of one full pass', async () => {
    const rng = new SeededRandom(11);
    const ids = Array.from({ length: 100 }, () => Math.floor(rng.next() * 512));
    const full = await model.forward(ids, null);
    for (const chunk of [32, 7, 1]) {
      const cache = new ArrayKVCache(model.layout);
      const parts: Float32Array[] = [];
      for (let i = 0; i < ids.length; i += chunk)
        parts.push(await model.forward(ids.slice(i, i + chunk), cache));
      const chunked = new Float32Array(full.length);
      let o = 0;
      for (const p of parts) {
        chunked.set(p, o);
        o += p.length;
      }
      let maxDiff = 0;
      for (let i = 0; i < full.length; i++) maxDiff = Math.max(maxDiff, Math.abs(full[i]! - chunked[i]!));
      expect(maxDiff, `chunk ${chunk}`).toBeLessThan(1e-4);
      expect(cache.length).toBe(ids.length);
    }
  });

  it('the cache receives pre-RoPE keys: layer 0 keys equal rmsNorm(embedding) · Wkᵀ', async () => {
    const ids = [1, 403, 407];
    const cache = new ArrayKVCache(model.layout);
    await model.forward(ids, cache);
    const { hidden, kvHeads, headDim, rmsEps } = model.config;
    const w = model.weights;
    const kv = kvHeads * headDim;
    const got = cache.reconstruct(0).keys;
    ids.forEach((id, t) => {
      const e = w.tokenEmbedding.subarray(id * hidden, (id + 1) * hidden);
      let ss = 0;
      for (const v of e) ss += v * v;
      const inv = 1 / Math.sqrt(ss / hidden + rmsEps);
      for (let o = 0; o < kv; o++) {
        let k = 0;
        for (let i = 0; i < hidden; i++)
          k += e[i]! * inv * w.layers[0]!.attnNorm[i]! * w.layers[0]!.wk[o * hidden + i]!;
        expect(got[t * kv + o]).toBeCloseTo(k, 5);
      }
    });
  });

  it('rejects token ids outside the vocabulary and a start that does not match the cache', async () => {
    await expect(model.forward([1, 512], null)).rejects.toThrow(
      /token id 512 at index 1 is outside the vocabulary \(0\.\.511\)/,
    );
    await expect(model.forward([1], new ArrayKVCache(model.layout), { start: 3 })).rejects.toThrow(
      /start 3 must equal the cache length 0/,
    );
  });
});

describe('model loading errors', () => {
  const base = {
    'general.architecture': { type: 'string', value: 'gpt2' },
    'gpt2.block_count': { type: 'u32', value: 1 },
  } as const;

  it('names a wrong architecture', () => {
    const file = GgufFile.parse(
      writeGguf(base, [{ name: 'x', dims: [1], type: 0, data: f32Bytes([0]) }]),
      'gpt2.gguf',
    );
    expect(() => LlamaModel.fromGguf(file)).toThrow(UnsupportedArchitectureError);
    expect(() => LlamaModel.fromGguf(file)).toThrow(
      /gpt2\.gguf: general\.architecture is "gpt2", but the kvq reference decoder runs only llama, qwen2/,
    );
  });

  it('names missing hyperparameters and missing tensors', async () => {
    const meta = new Map((await readGgufFile(STORIES)).metadata);
    meta.delete('llama.attention.head_count');
    expect(() => readLlamaConfig(meta, 's.gguf')).toThrow(
      /s\.gguf: metadata llama\.attention\.head_count is missing/,
    );
    const file = GgufFile.parse(
      writeGguf(
        {
          'general.architecture': { type: 'string', value: 'llama' },
          'llama.block_count': { type: 'u32', value: 1 },
          'llama.embedding_length': { type: 'u32', value: 4 },
          'llama.feed_forward_length': { type: 'u32', value: 8 },
          'llama.attention.head_count': { type: 'u32', value: 2 },
          'llama.context_length': { type: 'u32', value: 16 },
          'llama.vocab_size': { type: 'u32', value: 3 },
          'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: 1e-5 },
        },
        [{ name: 'blk.0.attn_norm.weight', dims: [4], type: 0, data: f32Bytes([1, 1, 1, 1]) }],
      ),
      'tiny.gguf',
    );
    expect(() => LlamaModel.fromGguf(file)).toThrow(/tiny\.gguf: tensor "blk\.0\.attn_q\.weight" is missing/);
  });
});
