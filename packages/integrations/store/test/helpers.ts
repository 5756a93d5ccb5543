import { type CompressedKVCache, type KVLayout, SeededRandom, createCache } from '@kvq/core';

export const LAYOUT: KVLayout = { layers: 2, queryHeads: 4, kvHeads: 2, headDim: 16 };

/** A cache of `tokens` tokens of seeded random K/V. */
export function randomCache(
  seed: number,
  tokens: number,
  preset = 'kivi-4',
  layout = LAYOUT,
): CompressedKVCache {
  const rng = new SeededRandom(seed);
  const cache = createCache({ layout, preset });
  const n = tokens * layout.kvHeads * layout.headDim;
  for (let l = 0; l < layout.layers; l++) {
    const k = new Float32Array(n);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      k[i] = rng.nextUint32() / 2 ** 31 - 1;
      v[i] = rng.nextUint32() / 2 ** 31 - 1;
    }
    cache.append(l, k, v, tokens);
  }
  return cache;
}

export function randomTokens(seed: number, n: number): number[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: n }, () => rng.nextUint32() % 32000);
}
