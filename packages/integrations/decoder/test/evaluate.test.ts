import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SeededRandom } from '@kvq/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ArrayKVCache,
  LlamaModel,
  type Tokenizer,
  evaluateCaches,
  nonOverlappingWindows,
  readGgufFile,
  tokenizerFromGguf,
} from '../src/index.js';
import { meanNll } from './helpers/nll.js';
import { DATA, STORIES } from './helpers/paths.js';

/** An fp32 cache whose reconstructed values carry seeded noise: a lossy cache with a known cause. */
class NoisyCache extends ArrayKVCache {
  readonly #rng = new SeededRandom(9);
  override reconstruct(layer: number) {
    const r = super.reconstruct(layer);
    for (let i = 0; i < r.values.length; i++) r.values[i] += 0.3 * this.#rng.normal();
    return r;
  }
}

let model: LlamaModel;
let tok: Tokenizer;
beforeAll(async () => {
  const file = await readGgufFile(STORIES);
  model = LlamaModel.fromGguf(file);
  tok = tokenizerFromGguf(file.metadata);
});

describe('nonOverlappingWindows', () => {
  it('cuts consecutive windows, keeps a shorter last one, honours the limit', () => {
    const t = Array.from({ length: 10 }, (_, i) => i);
    expect(nonOverlappingWindows(t, 4)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    expect(nonOverlappingWindows(t.slice(0, 9), 4)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
    expect(nonOverlappingWindows(t, 4, 1)).toEqual([[0, 1, 2, 3]]);
    expect(() => nonOverlappingWindows(t, 1)).toThrow(/ctx must be an integer ≥ 2/);
  });
});

describe('evaluateCaches (stories260K, TinyStories text)', () => {
  it('an uncompressed cache scores the no-cache perplexity; a noisy one is worse, with KL > 0 and top-1 < 1', async () => {
    const text = readFileSync(join(DATA, 'tinystories_sample_30k.txt'), 'utf8');
    const windows = nonOverlappingWindows(tok.encode(text), 200, 2);
    const reference = { name: 'fp32', create: () => new ArrayKVCache(model.layout) };
    const noisy = { name: 'noisy', create: () => new NoisyCache(model.layout) };
    const seen: number[] = [];
    const [ref, same, bad] = await evaluateCaches({
      model,
      windows,
      reference,
      caches: [reference, noisy],
      onProgress: (p) => seen.push(p.done),
    });
    let nll = 0;
    for (const w of windows)
      nll += meanNll(await model.forward(w, null), w, model.config.vocab) * (w.length - 1);
    const direct = Math.exp(nll / 398);
    expect(ref!.tokens).toBe(398);
    expect(Math.abs(ref!.perplexity / direct - 1)).toBeLessThan(1e-4);
    expect(same!.perplexity).toBe(ref!.perplexity);
    expect(same!.kl).toBeLessThan(1e-9);
    expect(same!.top1).toBe(1);
    expect(bad!.perplexity).toBeGreaterThan(ref!.perplexity);
    expect(bad!.kl).toBeGreaterThan(1e-3);
    expect(bad!.top1).toBeLessThan(1);
    expect(ref!.bitsPerValue).toBe(32);
    expect(ref!.kvBytes).toBe(200 * 5 * 4 * 8 * 2 * 4);
    expect(seen.at(-1)).toBe(3 * 2 * 7);
  });
});
