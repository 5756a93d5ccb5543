import { DynamicCache, Tensor } from '@huggingface/transformers';
import { CorruptFileError, InvalidArgumentError, NonFiniteError, SeededRandom, ShapeError } from '@kvq/core';
import { relL2 } from '@kvq/core/testing';
import { ArrayKVCache, LlamaModel, readGgufFile } from '@kvq/decoder';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  KvqCache,
  compress,
  hfKeysToPreRope,
  kvModelFromConfig,
  preRopeToHfKeys,
  readPastKeyValues,
  restore,
} from '../src/index.js';
import { loadStories } from './helpers.js';

let stories: Awaited<ReturnType<typeof loadStories>>;
beforeAll(async () => {
  stories = await loadStories();
});

const ids = (t: Tensor) => (t.tolist() as bigint[][])[0]!.map(Number);

describe('model layout from a transformers.js config', () => {
  it('reads layers, heads, head dim and RoPE', () => {
    const m = kvModelFromConfig(stories.model.config as never);
    expect(m.layout).toEqual({ layers: 5, queryHeads: 8, kvHeads: 4, headDim: 8 });
    expect(m.rope).toEqual({ theta: 10000, dims: 8, style: 'neox' });
  });
  it('refuses what it cannot undo, with the field named', () => {
    const base = { num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16 };
    expect(() => kvModelFromConfig({ ...base, rope_scaling: { rope_type: 'llama3', factor: 8 } })).toThrow(
      /rope_scaling/,
    );
    expect(() => kvModelFromConfig({ ...base, num_key_value_heads: 3 })).toThrow(InvalidArgumentError);
    expect(() => kvModelFromConfig({ ...base, num_hidden_layers: 0 })).toThrow(/num_hidden_layers/);
    expect(kvModelFromConfig({ ...base, rope_scaling: { type: 'linear', factor: 2 } }).rope.scale).toBe(2);
    // transformers 5.x: rope_parameters
    const v5 = { ...base, rope_parameters: { rope_theta: 500000, rope_type: 'default' } };
    expect(kvModelFromConfig(v5).rope).toEqual({ theta: 500000, dims: 16, style: 'neox' });
    expect(() =>
      kvModelFromConfig({ ...base, rope_parameters: { rope_theta: 1e4, rope_type: 'yarn' } }),
    ).toThrow(/not supported/);
  });
});

describe('key convention: transformers.js post-RoPE rotate-half ↔ kvq pre-RoPE GGUF layout', () => {
  it('round-trips', () => {
    const rng = new SeededRandom(3);
    const k = rng.normalArray(7 * 2 * 16);
    const rope = { theta: 10000, dims: 16, style: 'neox' } as const;
    const pre = hfKeysToPreRope(k, 7, 2, 16, 5, rope);
    expect(relL2(preRopeToHfKeys(pre, 7, 2, 16, 5, rope), k)).toBeLessThan(1e-6);
  });
  it("maps the ONNX model's keys onto the GGUF decoder's pre-RoPE keys for the same tokens", async () => {
    const prompt = ids(
      stories.tokenizer('Once upon a time there was a little dog named Max').input_ids as Tensor,
    );
    const cache = new DynamicCache();
    await stories.model.generate({
      input_ids: new Tensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, prompt.length]),
      max_new_tokens: 1,
      do_sample: false,
      past_key_values: cache,
    });
    const m = kvModelFromConfig(stories.model.config as never);
    const { tokens, layers } = readPastKeyValues(cache as never, m.layout);
    expect(tokens).toBe(prompt.length);
    const gguf = LlamaModel.fromGguf(await readGgufFile(stories.gguf));
    const ref = new ArrayKVCache(gguf.layout);
    await gguf.forward(Int32Array.from(prompt), ref, { logits: 'none' });
    for (let l = 0; l < m.layout.layers; l++) {
      const want = ref.reconstruct(l);
      const pre = hfKeysToPreRope(layers[l]!.keys, tokens, m.layout.kvHeads, m.layout.headDim, 0, m.rope);
      expect(relL2(pre, want.keys), `layer ${l} keys`).toBeLessThan(1e-4);
      expect(relL2(layers[l]!.values, want.values), `layer ${l} values`).toBeLessThan(1e-4);
    }
  });
});

describe('compress → restore', () => {
  it('fp16 preset: generation continues exactly as without compression', async () => {
    const inputs = stories.tokenizer('Once upon a time there was a little girl');
    const live = new DynamicCache();
    const first = await stories.model.generate({
      ...inputs,
      max_new_tokens: 8,
      do_sample: false,
      past_key_values: live,
    });
    const kvq = compress(live, { model: stories.model.config as never, preset: 'fp16' });
    expect(kvq.tokens).toBe(live.get_seq_length());
    const restored = await restore(kvq);
    expect(restored.get_seq_length()).toBe(kvq.tokens);
    const a = await stories.model.generate({
      input_ids: first,
      max_new_tokens: 16,
      do_sample: false,
      past_key_values: live,
    });
    const b = await stories.model.generate({
      input_ids: first,
      max_new_tokens: 16,
      do_sample: false,
      past_key_values: restored,
    });
    expect(ids(b as Tensor)).toEqual(ids(a as Tensor));
  });
  // bounds from the quantizers: uniform min/max codes over groups of 32 roughly Gaussian values have
  // a relative RMS error of about range/((2^b − 1)·√12)/σ ≈ 4.1/((2^b − 1)·3.46): 0.08 at 4 bits
  // (keys), 0.39 at 2 bits (values)
  it("k4v2: restored keys and values are within the quantizers' error; the cache ≥ 2.5× smaller than fp16", async () => {
    const inputs = stories.tokenizer('The little bird sang a song in the tall green tree every morning');
    const live = new DynamicCache();
    await stories.model.generate({ ...inputs, max_new_tokens: 40, do_sample: false, past_key_values: live });
    const m = kvModelFromConfig(stories.model.config as never);
    const policy = { sinkTokens: 0, bufferTokens: 0 };
    const kvq = compress(live, { model: m, preset: 'k4v2', policy });
    const got = readPastKeyValues((await restore(kvq)) as never, m.layout);
    const want = readPastKeyValues(live as never, m.layout);
    for (let l = 0; l < m.layout.layers; l++) {
      expect(relL2(got.layers[l]!.keys, want.layers[l]!.keys), `layer ${l} keys`).toBeLessThan(0.15);
      expect(relL2(got.layers[l]!.values, want.layers[l]!.values), `layer ${l} values`).toBeLessThan(0.5);
    }
    const s = kvq.stats();
    expect(s.fp16Bytes / s.bytes).toBeGreaterThan(2.5);
  });
  it('snapshots round-trip; another model or a corrupt snapshot is a typed error', async () => {
    const inputs = stories.tokenizer('One day a cat');
    const live = new DynamicCache();
    await stories.model.generate({ ...inputs, max_new_tokens: 4, do_sample: false, past_key_values: live });
    const kvq = compress(live, { model: stories.model.config as never, preset: 'kivi-4' });
    const bytes = kvq.serialize();
    const back = KvqCache.deserialize(bytes, stories.model.config as never);
    expect(back.tokens).toBe(kvq.tokens);
    const other = { num_hidden_layers: 5, num_attention_heads: 8, num_key_value_heads: 2, head_dim: 16 };
    expect(() => KvqCache.deserialize(bytes, other)).toThrow(ShapeError);
    const bad = bytes.slice();
    bad[bad.length - 3]! ^= 0xff;
    expect(() => KvqCache.deserialize(bad, stories.model.config as never)).toThrow(CorruptFileError);
    expect(() => KvqCache.deserialize(bytes.subarray(0, 20), stories.model.config as never)).toThrow(
      CorruptFileError,
    );
  });
  it('bad caches are typed errors naming what is wrong', () => {
    const m = kvModelFromConfig(stories.model.config as never);
    const t = (dims: number[]) =>
      new Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
    const good: Record<string, Tensor> = {};
    for (let l = 0; l < 5; l++) {
      good[`past_key_values.${l}.key`] = t([1, 4, 3, 8]);
      good[`past_key_values.${l}.value`] = t([1, 4, 3, 8]);
    }
    expect(compress(good, { model: m }).tokens).toBe(3);
    const { 'past_key_values.2.value': _, ...missing } = good;
    expect(() => compress(missing, { model: m })).toThrow(/past_key_values\.2\.value/);
    expect(() => compress({ ...good, 'past_key_values.1.key': t([1, 2, 3, 8]) }, { model: m })).toThrow(
      ShapeError,
    );
    expect(() => compress({ ...good, 'past_key_values.1.key': t([2, 4, 3, 8]) }, { model: m })).toThrow(
      ShapeError,
    );
    expect(() => compress({ ...good, 'past_key_values.1.key': t([1, 4, 5, 8]) }, { model: m })).toThrow(
      ShapeError,
    );
    expect(() => compress({ ...good, 'past_key_values.5.key': t([1, 4, 3, 8]) }, { model: m })).toThrow(
      /another model/,
    );
    const nan = {
      ...good,
      'past_key_values.0.key': new Tensor('float32', new Float32Array(96).fill(Number.NaN), [1, 4, 3, 8]),
    };
    expect(() => compress(nan, { model: m })).toThrow(NonFiniteError);
  });
});
