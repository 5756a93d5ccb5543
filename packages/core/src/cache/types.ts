import type { RopeConfig } from '../backend/types.js';
import type { KVLayout } from '../layout.js';
import type { AquaAdapters, Predictor } from '../predictors/types.js';
import type { QuantizerSpec } from '../quantizers/spec.js';

/**
 * Which tokens stay in full precision. Evaluation protocol (DESIGN.md): `sinkTokens: 4`,
 * `bufferTokens: 128` (new tokens gathered in fp16 and compressed as one block when the buffer is
 * full); the strict protocol sets `bufferTokens: 0` (every appended chunk is compressed at once).
 */
export interface CachePolicy {
  readonly sinkTokens: number;
  readonly bufferTokens: number;
}

/** Quantizers for keys and values of one layer. */
export interface LayerQuantizers {
  readonly keys: QuantizerSpec;
  readonly values: QuantizerSpec;
}

/**
 * A compression method as a configuration of parts (predictor, quantizers, per-layer bit
 * allocation, outliers, attention-aware precision, recent window).
 */
export interface PresetConfig {
  readonly name: string;
  readonly description: string;
  /** default quantizers of every layer */
  readonly quantizers: LayerQuantizers;
  /** per-layer overrides (bit allocation); index = layer */
  readonly layerQuantizers?: readonly (LayerQuantizers | undefined)[];
  readonly predictor: 'none' | 'aqua';
  /** QAQ-style attention-aware precision: tokens receiving the most attention keep `quantizers` of this level */
  readonly attentionAware?: {
    readonly fraction: number;
    readonly quantizers: LayerQuantizers;
  };
  readonly policy: CachePolicy;
}

/** Options of a cache. */
export interface CacheOptions {
  readonly layout: KVLayout;
  readonly preset: PresetConfig | string;
  /** required by presets with `predictor: 'aqua'` */
  readonly adapters?: AquaAdapters;
  /**
   * Computes AQUA-KV's predictions instead of the CPU predictor the cache builds from `adapters`
   * (`aquaPredictor(adapters, layout)`), e.g. a GPU implementation such as `CudaAquaPredictor` of
   * `@kvq/kernels-cuda`. Only for presets with `predictor: 'aqua'`, and its `kind` must be `'aqua'`
   * (otherwise InvalidArgumentError). `adapters` must still be given and valid (they are validated
   * as without this option and recorded in `serialize()`); the predictor must compute the
   * predictions of those same adapters, as `aquaPredictor` does, or the cache's snapshots will not
   * restore what it held. The cache does not own it: the caller disposes of it after the cache
   * (and its forks, which share it) are no longer used.
   */
  readonly predictor?: Predictor;
  /** RoPE applied to reconstructed (pre-RoPE) keys in `attention()`; omitted = keys stored as given */
  readonly rope?: RopeConfig;
  /** override the preset's policy (e.g. the strict protocol) */
  readonly policy?: CachePolicy;
  /** reject NaN/Inf input (default true) */
  readonly checkFinite?: boolean;
}

/** Exact accounting of what a cache stores (see DESIGN.md). */
export interface CacheStats {
  /** tokens in the cache */
  readonly tokens: number;
  /** values held: tokens × layers × kvHeads × headDim × 2 */
  readonly values: number;
  /** bytes that grow with the context (encoded blocks: codes, scales, zeros, outliers) over the encoded values */
  readonly bitsPerValue: number;
  /** all stored bytes (encoded blocks + fp16 sinks + fp16 buffer) × 8 / values */
  readonly storedBitsPerValue: number;
  /** all stored bytes */
  readonly bytes: number;
  /** the same cache in fp16 */
  readonly fp16Bytes: number;
  readonly bitsK: number;
  readonly bitsV: number;
}

/**
 * A compressed KV cache for one sequence. Tokens are appended layer by layer (layer 0 first,
 * then 1, ... for the same tokens), keys pre-RoPE `[t, kvHeads, headDim]`.
 */
export interface KVCache extends Disposable {
  readonly layout: KVLayout;
  readonly preset: PresetConfig;
  /** tokens held by every layer */
  readonly length: number;
  append(layer: number, keys: Float32Array, values: Float32Array, tokens: number): void;
  /** reconstructed keys (pre-RoPE) and values of a layer, `[length, kvHeads, headDim]` */
  reconstruct(layer: number): { keys: Float32Array; values: Float32Array };
  /** causal attention of `query` `[qTokens, queryHeads, headDim]` (RoPE applied) over the cache */
  attention(layer: number, query: Float32Array, qTokens: number, qStart: number): Float32Array;
  /** QAQ: how much attention each cached token of `layer` received (length = cache length) */
  observeAttention(layer: number, weights: Float32Array): void;
  truncate(length: number): void;
  fork(): KVCache;
  stats(): CacheStats;
  memoryBytes(): number;
  serialize(): Uint8Array;
  dispose(): void;
}
