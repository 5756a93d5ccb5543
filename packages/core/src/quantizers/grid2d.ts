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

/**
 * Exact nearest-point search over a 2-D grid, bucketed: the square `[−R, R]²` is cut in
 * `cells × cells` cells, each listing (in index order) every point that can be nearest to some
 * query in that cell (a point whose distance to the cell is at most the smallest, over all
 * points, of the largest distance to the cell). Queries outside the square fall back to brute
 * force. Results are identical to {@link nearestPoint2d}, ties included.
 */
export class Grid2dIndex {
  readonly grid: Float32Array;
  readonly #R: number;
  readonly #cells: number;
  readonly #inv: number;
  readonly #start: Int32Array;
  readonly #cand: Int32Array;

  constructor(grid: Float32Array, R = 4, cells = 64) {
    this.grid = grid;
    this.#R = R;
    this.#cells = cells;
    const h = (2 * R) / cells;
    this.#inv = 1 / h;
    const K = grid.length / 2;
    const start = new Int32Array(cells * cells + 1);
    const cand: number[] = [];
    for (let i = 0; i < cells; i++) {
      const x0 = -R + i * h;
      const x1 = x0 + h;
      for (let j = 0; j < cells; j++) {
        const y0 = -R + j * h;
        const y1 = y0 + h;
        let bound = Number.POSITIVE_INFINITY;
        for (let k = 0; k < K; k++) {
          const px = grid[2 * k]!;
          const py = grid[2 * k + 1]!;
          const dx = Math.max(Math.abs(px - x0), Math.abs(px - x1));
          const dy = Math.max(Math.abs(py - y0), Math.abs(py - y1));
          bound = Math.min(bound, dx * dx + dy * dy);
        }
        start[i * cells + j] = cand.length;
        for (let k = 0; k < K; k++) {
          const px = grid[2 * k]!;
          const py = grid[2 * k + 1]!;
          const dx = Math.max(0, x0 - px, px - x1);
          const dy = Math.max(0, y0 - py, py - y1);
          // small slack keeps the list a superset under rounding of the cell edges
          if (dx * dx + dy * dy <= bound * (1 + 1e-9) + 1e-12) cand.push(k);
        }
      }
    }
    start[cells * cells] = cand.length;
    this.#start = start;
    this.#cand = Int32Array.from(cand);
  }

  /** Index of the nearest point to `(x, y)`; a tie goes to the lowest index. */
  nearest(x: number, y: number): number {
    const fi = Math.floor((x + this.#R) * this.#inv);
    const fj = Math.floor((y + this.#R) * this.#inv);
    const n = this.#cells;
    if (!(fi >= 0 && fi < n && fj >= 0 && fj < n)) return nearestPoint2d(this.grid, x, y);
    const cell = fi * n + fj;
    const g = this.grid;
    const cand = this.#cand;
    let best = 0;
    let bd = Number.POSITIVE_INFINITY;
    for (let c = this.#start[cell]!, e = this.#start[cell + 1]!; c < e; c++) {
      const k = cand[c]!;
      const dx = x - g[2 * k]!;
      const dy = y - g[2 * k + 1]!;
      const d = dx * dx + dy * dy;
      if (d < bd) {
        bd = d;
        best = k;
      }
    }
    return best;
  }
}
