/**
 * Scalar level sets: validation, midpoints, nearest-level search, and the Lloyd-Max levels of
 * N(0,1) from the generated tables.
 */
import { InvalidArgumentError } from '../errors.js';
import { LLOYD_MAX_GAUSSIAN } from './grids.generated.js';

/**
 * Lloyd-Max levels of N(0,1) for `bits` ∈ 1..8: `2^bits` fp32 values, ascending (a fresh copy).
 * MSE on N(0,1): 0.3634 (1 bit), 0.1175 (2), 0.03455 (3), 0.0095 (4) — see `LLOYD_MAX_GAUSSIAN_MSE`.
 */
export function lloydMaxGaussian(bits: number): Float32Array {
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) {
    throw new InvalidArgumentError(`lloydMaxGaussian: bits must be an integer in 1..8, got ${bits}`);
  }
  return Float32Array.from(LLOYD_MAX_GAUSSIAN[bits]!);
}

/** Checks that `levels` has `count` finite, strictly ascending values; returns them as fp32. */
export function checkLevels(what: string, levels: ArrayLike<number>, count: number): Float32Array {
  if (levels.length !== count)
    throw new InvalidArgumentError(`${what}: expected ${count} levels, got ${levels.length}`);
  const out = Float32Array.from(levels as ArrayLike<number>);
  for (let i = 0; i < count; i++) {
    if (!Number.isFinite(out[i]!))
      throw new InvalidArgumentError(`${what}: level ${i} is ${levels[i]}, not finite`);
    if (i > 0 && !(out[i]! > out[i - 1]!)) {
      throw new InvalidArgumentError(
        `${what}: levels must be strictly ascending in fp32 (level ${i - 1} = ${out[i - 1]}, level ${i} = ${out[i]})`,
      );
    }
  }
  return out;
}

/** Midpoints between consecutive levels, exact (fp64 sums of fp32 values). */
export function midpoints(levels: Float32Array): Float64Array {
  const m = new Float64Array(Math.max(0, levels.length - 1));
  for (let i = 0; i < m.length; i++) m[i] = 0.5 * (levels[i]! + levels[i + 1]!);
  return m;
}

/** Index of the level nearest to `z` given the level midpoints (a tie goes to the lower index). */
export function nearestLevel(mids: Float64Array, z: number): number {
  let lo = 0;
  let hi = mids.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (z > mids[m]!) lo = m + 1;
    else hi = m;
  }
  return lo;
}
