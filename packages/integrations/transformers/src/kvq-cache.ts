import type { DynamicCache } from '@huggingface/transformers';
import {
  type AquaAdapters,
  type CachePolicy,
  type CacheStats,
  type CompressedKVCache,
  InvalidArgumentError,
  type PresetConfig,
  ShapeError,
  createCache,
  deserializeCache,
} from '@kvq/core';
import { hfKeysToPreRope, preRopeToHfKeys } from './key-convention.js';
import { type LlamaLikeConfig, type TransformersKvModel, kvModelFromConfig } from './model-layout.js';
import {
  type LayerKV,
  type PastKeyValues,
  loadTransformers,
  readPastKeyValues,
  toDynamicCache,
} from './past-key-values.js';

/** How to compress a transformers.js cache. */
export interface CompressOptions {
  /** the model: its `config` (transformers.js `model.config`) or {@link kvModelFromConfig}'s result */
  readonly model: TransformersKvModel | LlamaLikeConfig;
  /** a kvq preset name (`'k4v2'`, `'kivi-2'`, `'aqua-2.5'`, …) or config; default `'k4v2'` */
  readonly preset?: string | PresetConfig;
  /** AQUA-KV adapters, for presets with predictors (fitted on pre-RoPE keys in the GGUF layout) */
  readonly adapters?: AquaAdapters;
  /** override the preset's cache policy (sinks, fp16 buffer) */
  readonly policy?: CachePolicy;
  /** position of the cache's first token (default 0: no left padding, no earlier context) */
  readonly positionStart?: number;
}

function resolveModel(m: TransformersKvModel | LlamaLikeConfig): TransformersKvModel {
  if (m && typeof m === 'object' && 'layout' in m && 'rope' in m) return m as TransformersKvModel;
  return kvModelFromConfig(m as LlamaLikeConfig);
}

/**
 * One conversation's KV cache, compressed by kvq while it is idle. Keys are held pre-RoPE in the
 * GGUF head-dim layout (the convention of kvq's presets and AQUA-KV adapters); {@link restore}
 * gives back transformers.js tensors (post-RoPE, rotate-half layout).
 */
export class KvqCache {
  readonly model: TransformersKvModel;
  readonly cache: CompressedKVCache;
  readonly positionStart: number;

  constructor(model: TransformersKvModel, cache: CompressedKVCache, positionStart = 0) {
    const a = model.layout;
    const b = cache.layout;
    if (
      a.layers !== b.layers ||
      a.kvHeads !== b.kvHeads ||
      a.headDim !== b.headDim ||
      a.queryHeads !== b.queryHeads
    )
      throw new ShapeError(
        'KvqCache: the cache layout does not match the model',
        [a.layers, a.queryHeads, a.kvHeads, a.headDim],
        [b.layers, b.queryHeads, b.kvHeads, b.headDim],
      );
    if (!Number.isInteger(positionStart) || positionStart < 0)
      throw new InvalidArgumentError(
        `KvqCache: positionStart must be a non-negative integer, got ${positionStart}`,
      );
    this.model = model;
    this.cache = cache;
    this.positionStart = positionStart;
  }

  /** tokens held */
  get tokens(): number {
    return this.cache.length;
  }

  /** bytes held (everything the compressed cache stores) */
  get bytes(): number {
    return this.cache.stats().bytes;
  }

  /** exact accounting (bits/value, bytes, fp16 bytes) */
  stats(): CacheStats {
    return this.cache.stats();
  }

  /** The `.kvq` snapshot of the cache (to keep on disk or send to another process). */
  serialize(): Uint8Array {
    return this.cache.serialize();
  }

  /**
   * Reads a snapshot written by {@link serialize}. The model must be the one it was made for (a
   * layout mismatch is a `ShapeError`; a corrupt snapshot a `CorruptFileError`).
   */
  static deserialize(
    bytes: Uint8Array,
    model: TransformersKvModel | LlamaLikeConfig,
    opts: { adapters?: AquaAdapters; positionStart?: number } = {},
  ): KvqCache {
    const cache = deserializeCache(bytes, opts.adapters ? { adapters: opts.adapters } : {});
    return new KvqCache(resolveModel(model), cache, opts.positionStart ?? 0);
  }

  /** Frees the compressed data. */
  dispose(): void {
    this.cache.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Compresses a transformers.js cache (`DynamicCache` or the `past_key_values.*` record, batch 1,
 * CPU tensors) with a kvq preset. The input is not modified or disposed.
 */
export function compress(pastKeyValues: DynamicCache | PastKeyValues, options: CompressOptions): KvqCache {
  const model = resolveModel(options.model);
  const { layout, rope } = model;
  const start = options.positionStart ?? 0;
  const { tokens, layers } = readPastKeyValues(pastKeyValues as PastKeyValues, layout);
  const cache = createCache({
    layout,
    preset: options.preset ?? 'k4v2',
    ...(options.adapters ? { adapters: options.adapters } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
  });
  if (tokens > 0) {
    layers.forEach((kv, l) => {
      const pre = hfKeysToPreRope(kv.keys, tokens, layout.kvHeads, layout.headDim, start, rope);
      cache.append(l, pre, kv.values, tokens);
    });
  }
  return new KvqCache(model, cache, start);
}

/**
 * Reconstructs a transformers.js `DynamicCache` (fp32 CPU tensors) from a compressed cache, ready
 * for `model.generate({ past_key_values })`. The `KvqCache` stays valid.
 */
export async function restore(kvq: KvqCache): Promise<DynamicCache> {
  const lib = await loadTransformers();
  const { layout, rope } = kvq.model;
  const T = kvq.tokens;
  const layers: LayerKV[] = [];
  for (let l = 0; l < layout.layers; l++) {
    const { keys, values } =
      T > 0 ? kvq.cache.reconstruct(l) : { keys: new Float32Array(0), values: new Float32Array(0) };
    layers.push({
      keys: T > 0 ? preRopeToHfKeys(keys, T, layout.kvHeads, layout.headDim, kvq.positionStart, rope) : keys,
      values,
    });
  }
  return toDynamicCache(layers, T, layout, lib);
}
