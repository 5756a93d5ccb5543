import { InvalidArgumentError, type KVLayout } from '@kvq/core';

/** llama.cpp K/V cache types node-llama-cpp accepts (`experimentalKvCacheKeyType` / `…ValueType`). */
export type LlamaKvCacheType = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q5_1' | 'q5_0' | 'q4_1' | 'q4_0' | 'iq4_nl';

/** Bytes per block and values per block of each type (ggml's type traits). */
export const KV_CACHE_TYPES: Readonly<
  Record<
    LlamaKvCacheType,
    { readonly ggml: number; readonly blockBytes: number; readonly blockValues: number }
  >
> = {
  f32: { ggml: 0, blockBytes: 4, blockValues: 1 },
  f16: { ggml: 1, blockBytes: 2, blockValues: 1 },
  bf16: { ggml: 30, blockBytes: 2, blockValues: 1 },
  q8_0: { ggml: 8, blockBytes: 34, blockValues: 32 },
  q5_1: { ggml: 7, blockBytes: 24, blockValues: 32 },
  q5_0: { ggml: 6, blockBytes: 22, blockValues: 32 },
  q4_1: { ggml: 3, blockBytes: 20, blockValues: 32 },
  q4_0: { ggml: 2, blockBytes: 18, blockValues: 32 },
  iq4_nl: { ggml: 20, blockBytes: 18, blockValues: 32 },
};

/** Bits per stored value of a cache type. */
export function kvTypeBits(type: LlamaKvCacheType): number {
  const t = KV_CACHE_TYPES[type];
  if (!t) throw new InvalidArgumentError(`unknown llama.cpp KV cache type ${String(type)}`);
  return (8 * t.blockBytes) / t.blockValues;
}

/**
 * Bytes of K/V cache per token (all layers) with `keyType` / `valueType`. Quantized types need the
 * per-layer KV width (kvHeads × headDim) to be a multiple of their block (32), as llama.cpp requires.
 */
export function kvCacheBytesPerToken(
  keyType: LlamaKvCacheType,
  valueType: LlamaKvCacheType,
  layout: KVLayout,
): number {
  const c = layout.kvHeads * layout.headDim;
  let total = 0;
  for (const type of [keyType, valueType]) {
    const t = KV_CACHE_TYPES[type];
    if (!t) throw new InvalidArgumentError(`unknown llama.cpp KV cache type ${String(type)}`);
    if (c % t.blockValues !== 0 || layout.headDim % t.blockValues !== 0)
      throw new InvalidArgumentError(
        `${type} needs a head dim divisible by ${t.blockValues}; this model's is ${layout.headDim}`,
      );
    total += (c / t.blockValues) * t.blockBytes;
  }
  return total * layout.layers;
}

/**
 * Key/value type pairs from largest to smallest cache, keys never below values (KV-AdaQuant: keys'
 * errors are amplified more), without the pairs the measured table (README,
 * `scripts/kv-types-table.mjs` on kvq-ref-35M, 4 and 12 windows) found dominated — larger and worse:
 * q8_0/q4_0 (2496 B/token, +0.37%) loses to q5_1/q5_1 (2304 B, +0.26%), q4_0/q4_0 and q4_1/q4_1 to
 * iq4_nl/iq4_nl (1728 B, +0.96%), and q4_0 keys / q8_0 values to both.
 */
export const KV_TYPE_LADDER: readonly (readonly [LlamaKvCacheType, LlamaKvCacheType])[] = [
  ['f16', 'f16'],
  ['q8_0', 'q8_0'],
  ['q8_0', 'q5_1'],
  ['q5_1', 'q5_1'],
  ['q5_1', 'q4_0'],
  ['iq4_nl', 'iq4_nl'],
];

/** Whether llama.cpp stores this type quantized (in blocks of 32), rather than as plain floats. */
export function isQuantizedKvType(type: LlamaKvCacheType): boolean {
  const t = KV_CACHE_TYPES[type];
  if (!t) throw new InvalidArgumentError(`unknown llama.cpp KV cache type ${String(type)}`);
  return t.blockValues > 1;
}

/** node-llama-cpp's `GgmlType` name of a cache type (what its context options accept). */
export type GgmlTypeName = Uppercase<LlamaKvCacheType>;

/** node-llama-cpp context options that select a pair of K/V cache types. */
export interface KvCacheContextOptions {
  readonly experimentalKvCacheKeyType: GgmlTypeName;
  readonly experimentalKvCacheValueType: GgmlTypeName;
  /**
   * `true` when the values are quantized: llama.cpp refuses a quantized V cache without flash
   * attention ("quantized V cache requires flash_attn to be enabled", measured by
   * `scripts/kv-types-accepted.mjs`), and node-llama-cpp's default `'auto'` may turn it off.
   */
  readonly flashAttention?: true;
}

/**
 * node-llama-cpp context options selecting these cache types: its `GgmlType` names (`'Q8_0'`),
 * which is what it accepts — a lower-case name is silently ignored (the cache stays F16) — and
 * `flashAttention: true` when the values are quantized.
 */
export function kvCacheContextOptions(
  keyType: LlamaKvCacheType,
  valueType: LlamaKvCacheType,
): KvCacheContextOptions {
  for (const t of [keyType, valueType])
    if (!KV_CACHE_TYPES[t]) throw new InvalidArgumentError(`unknown llama.cpp KV cache type ${String(t)}`);
  return {
    experimentalKvCacheKeyType: keyType.toUpperCase() as GgmlTypeName,
    experimentalKvCacheValueType: valueType.toUpperCase() as GgmlTypeName,
    ...(isQuantizedKvType(valueType) ? { flashAttention: true as const } : {}),
  };
}

/** What {@link chooseKvCacheTypes} picked. */
export interface KvCacheTypeChoice {
  readonly keyType: LlamaKvCacheType;
  readonly valueType: LlamaKvCacheType;
  readonly bytesPerToken: number;
  /** bytes for `contextTokens × sequences` tokens */
  readonly bytes: number;
  /** node-llama-cpp context options (its `GgmlType` names, upper case; flash attention for a quantized V) */
  readonly contextOptions: KvCacheContextOptions;
}

/**
 * The most precise key/value cache types (from {@link KV_TYPE_LADDER}) whose cache for
 * `contextTokens × sequences` tokens fits in `budgetBytes`. An `InvalidArgumentError` when not even
 * the smallest pair fits (it names the smallest size needed). With `flashAttention: false` (a context
 * that must run without it) only pairs with unquantized values qualify: llama.cpp refuses a
 * quantized V cache without flash attention, and keys never get fewer bits than values, so that
 * leaves f16/f16.
 */
export function chooseKvCacheTypes(options: {
  readonly budgetBytes: number;
  readonly contextTokens: number;
  readonly layout: KVLayout;
  readonly sequences?: number;
  /** `false` when the context will run without flash attention (default: it may use it) */
  readonly flashAttention?: boolean;
}): KvCacheTypeChoice {
  const { budgetBytes, contextTokens, layout } = options;
  const sequences = options.sequences ?? 1;
  if (!(budgetBytes > 0)) throw new InvalidArgumentError(`budgetBytes must be positive, got ${budgetBytes}`);
  if (!(Number.isInteger(contextTokens) && contextTokens > 0))
    throw new InvalidArgumentError(`contextTokens must be a positive integer, got ${contextTokens}`);
  let smallest = Number.POSITIVE_INFINITY;
  for (const [k, v] of KV_TYPE_LADDER) {
    if (options.flashAttention === false && isQuantizedKvType(v)) continue;
    let perToken: number;
    try {
      perToken = kvCacheBytesPerToken(k, v, layout);
    } catch {
      continue; // type not usable with this head dim
    }
    const bytes = perToken * contextTokens * sequences;
    smallest = Math.min(smallest, bytes);
    if (bytes <= budgetBytes)
      return {
        keyType: k,
        valueType: v,
        bytesPerToken: perToken,
        bytes,
        contextOptions: kvCacheContextOptions(k, v),
      };
  }
  throw new InvalidArgumentError(
    `no K/V cache types fit ${contextTokens} tokens × ${sequences} sequences in ${budgetBytes} bytes (the smallest${options.flashAttention === false ? ' without flash attention' : ''} needs ${smallest})`,
  );
}
