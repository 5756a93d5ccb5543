/**
 * The data of the conformance suite that a runner outside vitest needs too (the WebGPU browser smoke
 * test): its quantizer specs, its tolerances and its error measure. No vitest import, so that
 * `@kvq/core/testing/cases` bundles for a browser page.
 */
import type { QuantizerSpec } from '../quantizers/spec.js';

/**
 * Tolerances of the conformance suite, as relative L2 error ‖backend − cpu‖ / ‖cpu‖.
 * - dense fp32 ops (linear, rmsNorm, rope, swiglu): summation order may differ, no tf32.
 * - decode of the same bytes: arithmetic on the same fp16/fp32 values.
 * - encode: the CPU decode of the backend's bytes vs of the CPU's bytes; a GPU may pick the
 *   other code on exact or near ties (FORMAT.md), which moves a few values by one step.
 * - attention: fp32 softmax with a different summation order (fp16 intermediates allowed).
 */
export const CONFORMANCE_TOLERANCE = {
  dense: 1e-5,
  decode: 1e-6,
  encode: 2e-2,
  attention: 1e-3,
} as const;

/** Every quantizer kind, as the conformance suite exercises them. */
export const CONFORMANCE_SPECS: readonly QuantizerSpec[] = [
  { kind: 'fp16' },
  { kind: 'bf16' },
  { kind: 'fp8', format: 'e4m3' },
  { kind: 'uniform', bits: 2, axis: 'channel', groupSize: 32 },
  { kind: 'uniform', bits: 4, axis: 'token', groupSize: 32 },
  { kind: 'uniform', bits: 3, axis: 'channel', groupSize: 128 },
  { kind: 'codebook', bits: 3, axis: 'channel', groupSize: 32, norm: 'rms' },
  { kind: 'codebook', bits: 2, axis: 'token', groupSize: 32, norm: 'absmax' },
  { kind: 'higgs', bits: 2, dim: 1, block: 64, seed: 7 },
  { kind: 'higgs', bits: 2, dim: 2, block: 128, seed: 9 },
  { kind: 'higgs', bits: 1.5, dim: 2, block: 64, seed: 3 },
  {
    kind: 'outliers',
    axis: 'token',
    count: 2,
    inner: { kind: 'uniform', bits: 2, axis: 'channel', groupSize: 32 },
  },
];

/** Relative L2 error ‖a − ref‖ / ‖ref‖ (0 when both are zero). NaN anywhere gives Infinity. */
export function relL2(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) return Number.POSITIVE_INFINITY;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - ref[i]!;
    if (Number.isNaN(d)) return Number.POSITIVE_INFINITY;
    num += d * d;
    den += ref[i]! * ref[i]!;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}
