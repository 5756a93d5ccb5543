import type { QuantizerSpec } from '../quantizers/spec.js';
import type { BlockShape, EncodedBlock } from '../quantizers/types.js';

/** Names of the backends kvq knows; kernel packages register themselves under these. */
export type BackendName = 'cpu' | 'cuda' | 'webgpu';

/** RoPE as applied by the model: `interleaved` = adjacent pairs (llama.cpp/GGUF), `neox` = rotate-half (HF). */
export interface RopeConfig {
  readonly theta: number;
  /** rotated dims per head (≤ headDim; usually headDim) */
  readonly dims: number;
  readonly style: 'interleaved' | 'neox';
  /** linear position scaling factor (1 = none) */
  readonly scale?: number;
}

/** One contiguous token range of a cache as stored: full precision, or encoded blocks. Keys are pre-RoPE. */
export type CacheSegment =
  | {
      readonly kind: 'dense';
      readonly tokens: number;
      readonly keys: Float32Array;
      readonly values: Float32Array;
    }
  | {
      readonly kind: 'encoded';
      readonly tokens: number;
      readonly keySpec: QuantizerSpec;
      readonly valueSpec: QuantizerSpec;
      readonly keys: EncodedBlock;
      readonly values: EncodedBlock;
    };

/** Inputs of single-sequence attention over a cache stored as segments (positions 0..total-1). */
export interface SegmentAttentionInput {
  /** `[qTokens, queryHeads, headDim]`, RoPE already applied */
  readonly query: Float32Array;
  readonly qTokens: number;
  readonly queryHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** absolute position of the first query token; query i attends to keys at positions ≤ qStart + i */
  readonly qStart: number;
  readonly segments: readonly CacheSegment[];
  /** applied to the reconstructed keys at their positions; omitted = keys are used as stored */
  readonly rope?: RopeConfig;
  /** softmax scale; default 1/sqrt(headDim) */
  readonly scale?: number;
}

/**
 * The operations a kernel package implements. Arrays are host fp32, row-major; results come back
 * as promises so that GPU backends can run asynchronously. The CPU backend is the reference: any
 * backend's results must match it within the tolerances of `@kvq/core/testing`.
 */
export interface Backend {
  readonly name: BackendName;
  /** Whether this backend implements `op` (ask per op, as ggml does). */
  supports(op: BackendOp): boolean;
  encode(spec: QuantizerSpec, data: Float32Array, shape: BlockShape): Promise<EncodedBlock>;
  decode(spec: QuantizerSpec, block: EncodedBlock): Promise<Float32Array>;
  /** y[rows, outDim] = x[rows, inDim] · wᵀ + bias, w is `[outDim, inDim]` */
  linear(
    x: Float32Array,
    rows: number,
    w: Float32Array,
    inDim: number,
    outDim: number,
    bias?: Float32Array,
  ): Promise<Float32Array>;
  /** RMSNorm over the last dim: y = x / sqrt(mean(x²) + eps) · weight */
  rmsNorm(
    x: Float32Array,
    rows: number,
    dim: number,
    weight: Float32Array,
    eps: number,
  ): Promise<Float32Array>;
  /** RoPE on `[tokens, heads, headDim]` at `positions[tokens]`; `inverse` undoes it */
  rope(
    x: Float32Array,
    tokens: number,
    heads: number,
    headDim: number,
    positions: Int32Array,
    cfg: RopeConfig,
    inverse?: boolean,
  ): Promise<Float32Array>;
  /** silu(gate) ⊙ up */
  swiglu(gate: Float32Array, up: Float32Array): Promise<Float32Array>;
  /** causal GQA attention over segments; returns `[qTokens, queryHeads, headDim]` */
  attention(input: SegmentAttentionInput): Promise<Float32Array>;
  /** Frees everything the backend holds. Idempotent. */
  dispose(): void;
  [Symbol.dispose](): void;
}

export type BackendOp = 'encode' | 'decode' | 'linear' | 'rmsNorm' | 'rope' | 'swiglu' | 'attention';
