import type { QuantizerSpec } from './spec.js';

/** The shape of a block of keys or values: `[tokens, kvHeads, headDim]`. */
export interface BlockShape {
  readonly tokens: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/** The stored form of one block: everything needed to decode it, given the quantizer's spec. */
export interface EncodedBlock {
  readonly shape: BlockShape;
  /** The exact stored bytes (codes, scales, zero points, outliers...). */
  readonly bytes: Uint8Array;
}

/**
 * Encodes and decodes blocks `[tokens, kvHeads, headDim]` of fp32 keys or values.
 * Implementations are pure: same spec + same input → same bytes, on every backend.
 */
export interface Quantizer {
  readonly spec: QuantizerSpec;
  /** Exact bytes `encode` writes for a block of this shape. */
  encodedBytes(shape: BlockShape): number;
  /** Exact bits per value for a block of this shape: `encodedBytes × 8 / values`. */
  bitsPerValue(shape: BlockShape): number;
  /** Encodes `data` (length tokens × kvHeads × headDim). Throws on shape mismatch or NaN/Inf. */
  encode(data: Float32Array, shape: BlockShape): EncodedBlock;
  /** Decodes into `out` (allocated when omitted) and returns it. Throws CorruptFileError on a short buffer. */
  decode(block: EncodedBlock, out?: Float32Array): Float32Array;
}
