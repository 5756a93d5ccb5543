/**
 * 2-D vector grids for N(0,1)² (HIGGS `dim: 2`): the generated tables and nearest-point search.
 */
import { InvalidArgumentError } from '../errors.js';
import { GRID_2D, GRID_2D_RATES } from './grids.generated.js';

/**
 * The 2-D grid for `bits` per value ∈ {1, 1.5, 2, 2.5, 3}: `2^(2·bits)` fp32 points,
 * interleaved `[x0, y0, x1, y1, …]` (a fresh copy).
 */
export function gaussianGrid2d(bits: number): Float32Array {
  const g = GRID_2D[String(bits)];
  if (g === undefined) {
    throw new InvalidArgumentError(`2-D grid: bits must be one of ${GRID_2D_RATES.join(', ')}, got ${bits}`);
  }
  return Float32Array.from(g);
}

/**
 * Index of the point of `grid` (interleaved, `grid.length / 2` points) nearest to `(x, y)` in
 * squared Euclidean distance (fp64 from fp32 inputs); a tie goes to the lowest index.
 * Brute force: the grids have at most 64 points.
 */
export function nearestPoint2d(grid: Float32Array, x: number, y: number): number {
  let best = 0;
  let bd = Number.POSITIVE_INFINITY;
  for (let k = 0, j = 0; j < grid.length; k++, j += 2) {
    const dx = x - grid[j]!;
    const dy = y - grid[j + 1]!;
    const d = dx * dx + dy * dy;
    if (d < bd) {
      bd = d;
      best = k;
    }
  }
  return best;
}
