/**
 * JSON-serializable descriptions of quantizers. A spec fully determines the encoding (with the
 * fitted parameters it carries, e.g. a codebook), so it is stored in file headers and presets.
 *
 * Blocks are `[tokens, kvHeads, headDim]` fp32; "channel" means one (head, dim) pair.
 */
export type QuantizerSpec = PassthroughSpec | Fp8Spec | UniformSpec | CodebookSpec | HiggsSpec | OutlierSpec;

/** fp16 or bf16 storage (16 bits per value). */
export interface PassthroughSpec {
  readonly kind: 'fp16' | 'bf16';
}

/** fp8 e4m3 (OCP "fn" variant: no Inf, max 448) per value, with no scale. */
export interface Fp8Spec {
  readonly kind: 'fp8';
  readonly format: 'e4m3';
}

/**
 * Uniform asymmetric quantization, `bits` ∈ 1..8, one fp16 scale and fp16 zero point per group.
 * - `axis: 'channel'` (KIVI keys): a group is `groupSize` consecutive tokens of one channel;
 *   a block of `t` tokens has `ceil(t / groupSize)` groups per channel.
 * - `axis: 'token'` (KIVI values): a group is `groupSize` consecutive channels of one token
 *   (channels are the flattened `kvHeads × headDim`; groupSize must divide it).
 */
export interface UniformSpec {
  readonly kind: 'uniform';
  readonly bits: number;
  readonly axis: 'channel' | 'token';
  readonly groupSize: number;
}

/**
 * Non-uniform scalar quantization with a codebook of `2^bits` levels (sorted ascending), applied
 * after normalizing each group by an fp16 scale (max |x| for `norm: 'absmax'`, RMS for `'rms'`; `'meanrms'` first subtracts the group's mean, stored as a second fp16 per group).
 * Groups as in {@link UniformSpec}. Without a fitted codebook, the Lloyd-Max codebook for N(0,1)
 * (for `'rms'`) is used; for `'absmax'`, those levels divided by their largest magnitude (±1 outer
 * levels). `fitCodebook` fits one (Lloyd-Max on samples, e.g. from `CodebookQuantizer.normalize`).
 */
export interface CodebookSpec {
  readonly kind: 'codebook';
  readonly bits: number;
  readonly axis: 'channel' | 'token';
  readonly groupSize: number;
  readonly norm: 'absmax' | 'rms' | 'meanrms';
  readonly codebook?: readonly number[];
}

/**
 * HIGGS-style: each token's channels are split in Hadamard blocks of `block` values (a power of
 * two dividing kvHeads × headDim), multiplied by seeded random signs and a normalized fast
 * Walsh–Hadamard transform, scaled by the block's RMS (fp16), then quantized with a grid optimal
 * for N(0,1): scalar (`dim: 1`, 2^bits levels) or 2-D vectors (`dim: 2`, 2^(2·bits) points, so
 * `bits` may be fractional in steps of 0.5). The scale is per `block` values.
 */
export interface HiggsSpec {
  readonly kind: 'higgs';
  readonly bits: number;
  readonly dim: 1 | 2;
  readonly block: number;
  readonly seed: number;
  /**
   * Multiplies the STORED scale (codes are still chosen against the block's RMS). A Lloyd-Max /
   * k-means grid reconstructs E[x | cell]: its output has variance 1 − D (D the grid's MSE on
   * N(0,1)) and regresses on x with slope 1 − D, so keys come back attenuated (flatter attention)
   * and values damped. 1/sqrt(1 − D) restores the variance (`higgsVarianceGain`); 1/(1 − D) makes
   * the reconstruction slope-unbiased (`higgsUnbiasedGain`, used by the AQUA presets). Decoders
   * need nothing new (they multiply by the stored scale). Default 1.
   */
  readonly scaleGain?: number;
}

/**
 * Keeps the `count` largest-magnitude values of each token (`axis: 'token'`) or of each channel
 * over the block's tokens (`axis: 'channel'`) apart: stored sparse as fp16 value + u16 index;
 * the rest (with outliers zeroed) goes through `inner`. A block with fewer than `count` channels
 * (token axis) or tokens (channel axis) keeps all of them.
 */
export interface OutlierSpec {
  readonly kind: 'outliers';
  readonly axis: 'token' | 'channel';
  readonly count: number;
  readonly inner: QuantizerSpec;
}
