/**
 * Short human names of quantizer specs, for tables and logs.
 */
import type { QuantizerSpec } from './spec.js';

/**
 * A short name for `spec`: `fp16`, `bf16`, `fp8-e4m3`, `u2-ch128` (uniform 2 bits, per-channel
 * groups of 128 tokens), `u4-tok64`, `cb3-tok64-rms` (codebook; `-fit` when it carries fitted
 * levels), `higgs2-1d-h64`, `higgs2.5-2d-h128` (bits, grid dimension, Hadamard block), and
 * `<inner>+o4tok` / `<inner>+o2ch` for outliers kept apart (count and axis).
 */
export function quantizerLabel(spec: QuantizerSpec): string {
  switch (spec.kind) {
    case 'fp16':
    case 'bf16':
      return spec.kind;
    case 'fp8':
      return `fp8-${spec.format}`;
    case 'uniform':
      return `u${spec.bits}-${spec.axis === 'channel' ? 'ch' : 'tok'}${spec.groupSize}`;
    case 'codebook':
      return `cb${spec.bits}-${spec.axis === 'channel' ? 'ch' : 'tok'}${spec.groupSize}-${spec.norm}${spec.codebook ? '-fit' : ''}`;
    case 'higgs':
      return `higgs${spec.bits}-${spec.dim}d-h${spec.block}`;
    case 'outliers':
      return `${quantizerLabel(spec.inner)}+o${spec.count}${spec.axis === 'token' ? 'tok' : 'ch'}`;
    default:
      return `unknown(${String((spec as { kind?: unknown }).kind)})`;
  }
}
