/**
 * @kvq/store/decoder — a prefix cache wired into @kvq/decoder's reference model: a second process
 * with the same prompt restores the stored prefix instead of prefilling it.
 * @packageDocumentation
 */
import { type CompressedKVCache, InvalidArgumentError, ShapeError } from '@kvq/core';
import type { LlamaModel } from '@kvq/decoder';
import type { PrefixCache } from './prefix-cache.js';

/** Inputs of {@link prefillWithPrefix}. */
export interface PrefillWithPrefixInput {
  readonly model: LlamaModel;
  /** the prompt */
  readonly tokens: ArrayLike<number>;
  readonly prefix: PrefixCache;
  /** a new empty cache of the prefix cache's preset (used on a miss) */
  readonly createCache: () => CompressedKVCache;
  /** tokens per forward call (default 32, the evaluation protocol's chunk) */
  readonly chunk?: number;
  /** write the prompt's new chunks to the store afterwards (default true) */
  readonly store?: boolean;
}

/** What {@link prefillWithPrefix} did. */
export interface PrefillWithPrefixResult {
  /** the prompt's cache (restored prefix + prefilled rest) */
  readonly cache: CompressedKVCache;
  /** logits of the next token after the prompt, [vocab] */
  readonly logits: Float32Array;
  /** tokens restored from the store */
  readonly reused: number;
  /** tokens run through the model */
  readonly prefilled: number;
  /** snapshots written to the store */
  readonly written: number;
  readonly lookupMs: number;
  readonly prefillMs: number;
}

/**
 * Prefills `tokens` through `model`, reusing the longest stored prefix: looks up every token but
 * the last (so that at least one token runs and gives the next-token logits), restores the hit,
 * runs the rest in chunks, and stores the prompt's new chunks. A miss or a store failure only costs
 * the prefill.
 * @throws InvalidArgumentError for no tokens or a bad chunk size; ShapeError when the prefix
 * cache's layout is not the model's (its snapshots would belong to another model).
 */
export async function prefillWithPrefix(input: PrefillWithPrefixInput): Promise<PrefillWithPrefixResult> {
  const { model, tokens, prefix } = input;
  const chunk = input.chunk ?? 32;
  if (!Number.isInteger(chunk) || chunk <= 0)
    throw new InvalidArgumentError(`chunk must be a positive integer, got ${chunk}`);
  const ids = Array.from(tokens);
  if (ids.length === 0) throw new InvalidArgumentError('prefillWithPrefix needs at least one token');
  const [m, p] = [model.layout, prefix.layout];
  if (
    m.layers !== p.layers ||
    m.kvHeads !== p.kvHeads ||
    m.headDim !== p.headDim ||
    m.queryHeads !== p.queryHeads
  )
    throw new ShapeError(
      "the prefix cache's layout [layers, queryHeads, kvHeads, headDim] is not the model's",
      [m.layers, m.queryHeads, m.kvHeads, m.headDim],
      [p.layers, p.queryHeads, p.kvHeads, p.headDim],
    );
  const t0 = performance.now();
  const hit = await prefix.lookup(ids.slice(0, Math.max(0, ids.length - 1)));
  const t1 = performance.now();
  const cache = hit.cache ?? input.createCache();
  let logits: Float32Array = new Float32Array(0);
  for (let s = hit.tokens; s < ids.length; s += chunk) {
    const part = ids.slice(s, Math.min(ids.length, s + chunk));
    const last = s + chunk >= ids.length;
    const out = await model.forward(part, cache, { logits: last ? 'last' : 'none' });
    if (last) logits = out;
  }
  const t2 = performance.now();
  const written = input.store === false ? 0 : (await prefix.store(ids, cache)).written;
  return {
    cache,
    logits,
    reused: hit.tokens,
    prefilled: ids.length - hit.tokens,
    written,
    lookupMs: t1 - t0,
    prefillMs: t2 - t1,
  };
}
