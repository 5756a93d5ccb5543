import { InvalidArgumentError, type KVCache, type KVLayout, ShapeError } from '@kvq/core';
import type { matmulTransposed } from '../kernels/matmul.js';
import type { RopeTable } from '../kernels/rope.js';
import { chunkAttention } from '../llama/attention.js';

/** Inputs of {@link attendThroughCache}. */
export interface AttendInput {
  /** where earlier tokens' K/V are read from and this chunk's are appended to; null = no history */
  readonly cache: KVCache | null;
  readonly layout: KVLayout;
  readonly rope: RopeTable;
  readonly layer: number;
  /** `[tokens, queryHeads, headDim]`, pre-RoPE (not modified) */
  readonly query: Float32Array;
  /** `[tokens, kvHeads, headDim]`, pre-RoPE (appended to the cache as is) */
  readonly keys: Float32Array;
  readonly values: Float32Array;
  readonly tokens: number;
  /** absolute position of the first token (default: the cache length, or 0) */
  readonly start?: number;
  /** tell the cache how much attention each cached token received (QAQ); default: when the preset asks */
  readonly observe?: boolean;
  readonly matmul?: typeof matmulTransposed;
}

/**
 * Attention of one layer for a chunk of new tokens, with the AQUA-KV evaluation semantics: the
 * chunk's queries attend to the chunk's own keys/values in full precision and to the
 * reconstructed (decompressed) keys/values of every earlier token in `cache`; RoPE is applied
 * here, to queries and keys, at their absolute positions (the cache holds pre-RoPE keys). Then the
 * chunk's pre-RoPE keys and values are appended to the cache. Returns `[tokens, queryHeads, headDim]`.
 */
export function attendThroughCache(input: AttendInput): Float32Array {
  const { cache, layout, rope, layer, tokens: T } = input;
  const { queryHeads: qH, kvHeads: kvH, headDim: hd } = layout;
  const kvDim = kvH * hd;
  if (input.query.length !== T * qH * hd)
    throw new ShapeError('attention query', [T, qH, hd], [input.query.length]);
  if (input.keys.length !== T * kvDim)
    throw new ShapeError('attention keys', [T, kvH, hd], [input.keys.length]);
  if (input.values.length !== T * kvDim)
    throw new ShapeError('attention values', [T, kvH, hd], [input.values.length]);
  const start = input.start ?? cache?.length ?? 0;
  if (cache && start !== cache.length) {
    throw new InvalidArgumentError(`attention: start ${start} must equal the cache length ${cache.length}`);
  }
  if (!cache && start > 0)
    throw new InvalidArgumentError(`attention: start ${start} > 0 needs a cache holding the earlier tokens`);
  const q = rope.apply(input.query.slice(), T, qH, start);
  const keys = new Float32Array((start + T) * kvDim);
  const values = new Float32Array((start + T) * kvDim);
  if (cache && start > 0) {
    const past = cache.reconstruct(layer);
    keys.set(past.keys.subarray(0, start * kvDim));
    values.set(past.values.subarray(0, start * kvDim));
    rope.apply(keys, start, kvH, 0);
  }
  keys.set(input.keys, start * kvDim);
  values.set(input.values, start * kvDim);
  rope.apply(keys.subarray(start * kvDim), T, kvH, start);
  const observe = input.observe ?? (cache !== null && cache.preset.attentionAware !== undefined);
  const received = observe && start > 0 ? new Float32Array(start) : undefined;
  const out = chunkAttention({
    query: q,
    qTokens: T,
    queryHeads: qH,
    kvHeads: kvH,
    headDim: hd,
    keys,
    values,
    kTokens: start + T,
    received,
    matmul: input.matmul,
  });
  if (cache) {
    if (received) cache.observeAttention(layer, received);
    cache.append(layer, input.keys, input.values, T);
  }
  return out;
}
