import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamicCache, type Tensor } from '@huggingface/transformers';
import { DiskDirStore, PrefixCache } from '@kvq/store';
import { beforeAll, describe, expect, it } from 'vitest';
import { compress, kvModelFromConfig, lookupPrefix, restore, storePrefix } from '../src/index.js';
import { loadStories } from './helpers.js';

let stories: Awaited<ReturnType<typeof loadStories>>;
beforeAll(async () => {
  stories = await loadStories();
});
const ids = (t: Tensor) => (t.tolist() as bigint[][])[0]!.map(Number);

describe('@kvq/store prefix caches with transformers.js', () => {
  it('a second session restores the stored prefix and generates exactly as without it (fp16)', async () => {
    const m = kvModelFromConfig(stories.model.config as never);
    const dir = mkdtempSync(join(tmpdir(), 'kvq-tjs-prefix-'));
    const newPrefix = () =>
      new PrefixCache({
        store: new DiskDirStore({ dir, maxBytes: 1e8 }),
        identity: { model: 'stories260K-onnx', preset: 'fp16' },
        layout: m.layout,
        chunkTokens: 16,
      });
    const inputs = stories.tokenizer(
      'Once upon a time there was a little girl who loved to play in the park with her dog',
    );
    const prompt = ids(inputs.input_ids as Tensor);
    // session 1: prefill, generate, store
    const live = new DynamicCache();
    const a = await stories.model.generate({
      ...inputs,
      max_new_tokens: 12,
      do_sample: false,
      past_key_values: live,
    });
    const kvq = compress(live, { model: m, preset: 'fp16' });
    await storePrefix(newPrefix(), ids(a as Tensor).slice(0, kvq.tokens), kvq);
    // session 2: same prompt, a fresh PrefixCache on the same store
    const hit = await lookupPrefix(newPrefix(), prompt, m);
    expect(hit.tokens).toBe(Math.floor((prompt.length - 1) / 16) * 16);
    expect(hit.tokens).toBeGreaterThan(0);
    const past = await restore(hit.kvq!);
    const b = await stories.model.generate({
      ...inputs,
      max_new_tokens: 12,
      do_sample: false,
      past_key_values: past,
    });
    expect(ids(b as Tensor)).toEqual(ids(a as Tensor));
  });
});
