import type { CompressedKVCache } from '@kvq/core';
import { KvqCache } from './kvq-cache.js';
import type { TransformersKvModel } from './model-layout.js';
import { type LlamaLikeConfig, kvModelFromConfig } from './model-layout.js';

/**
 * The part of @kvq/store's `PrefixCache` used here (structural, so that this package does not
 * depend on @kvq/store): `lookup` returns the longest stored prefix, `store` writes new chunks.
 */
export interface PrefixCacheLike {
  lookup(tokens: ArrayLike<number>): Promise<{ tokens: number; cache: CompressedKVCache | undefined }>;
  store(tokens: ArrayLike<number>, cache: CompressedKVCache): Promise<unknown>;
}

const resolve = (m: TransformersKvModel | LlamaLikeConfig): TransformersKvModel =>
  'layout' in m && 'rope' in m ? (m as TransformersKvModel) : kvModelFromConfig(m as LlamaLikeConfig);

/**
 * Looks up the longest stored prefix of `tokens` (all but the last token, so that generation has
 * at least one token to run). Restore the hit with `restore(hit.kvq)` and pass it to
 * `generate({ input_ids: tokens, past_key_values })`: transformers.js runs only the uncached tokens.
 */
export async function lookupPrefix(
  prefix: PrefixCacheLike,
  tokens: ArrayLike<number>,
  model: TransformersKvModel | LlamaLikeConfig,
): Promise<{ tokens: number; kvq: KvqCache | undefined }> {
  const ids = Array.from(tokens).slice(0, Math.max(0, tokens.length - 1));
  const hit = await prefix.lookup(ids);
  return { tokens: hit.tokens, kvq: hit.cache ? new KvqCache(resolve(model), hit.cache) : undefined };
}

/** Stores the full chunks of a conversation's compressed cache under its tokens. */
export async function storePrefix(
  prefix: PrefixCacheLike,
  tokens: ArrayLike<number>,
  kvq: KvqCache,
): Promise<void> {
  await prefix.store(tokens, kvq.cache);
}
