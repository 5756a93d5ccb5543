import { SeededRandom } from '../random.js';
import { Grid2dIndex, gaussianGrid2d } from './grid2d.js';
import { lloydMaxGaussian, midpoints, nearestLevel } from './levels.js';

const cache = new Map<string, number>();

/**
 * The MSE per value of a HIGGS grid on N(0,1) data, estimated on 2^16 seeded samples (1-D) or
 * 2^15 pairs (2-D): the D of {@link higgsVarianceGain}.
 */
export function higgsGridMse(bits: number, dim: 1 | 2): number {
  const key = `${dim}:${bits}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const rng = new SeededRandom(0x9e3779b9);
  let se = 0;
  let n = 0;
  if (dim === 1) {
    const levels = lloydMaxGaussian(bits);
    const mids = midpoints(levels);
    for (let i = 0; i < 1 << 16; i++) {
      const x = rng.normal();
      se += (x - levels[nearestLevel(mids, x)]!) ** 2;
      n++;
    }
  } else {
    const grid = gaussianGrid2d(bits);
    const index = new Grid2dIndex(grid);
    for (let i = 0; i < 1 << 15; i++) {
      const x = rng.normal();
      const y = rng.normal();
      const q = index.nearest(x, y) << 1;
      se += (x - grid[q]!) ** 2 + (y - grid[q + 1]!) ** 2;
      n += 2;
    }
  }
  const mse = se / n;
  cache.set(key, mse);
  return mse;
}

/**
 * The stored-scale gain 1/sqrt(1 − D) that makes a HIGGS grid's reconstruction keep the variance
 * of N(0,1) input (see `HiggsSpec.scaleGain`).
 */
export function higgsVarianceGain(bits: number, dim: 1 | 2): number {
  return 1 / Math.sqrt(1 - higgsGridMse(bits, dim));
}

/**
 * The stored-scale gain 1/(1 − D) that makes a HIGGS grid's reconstruction slope-unbiased on N(0,1)
 * input: regressing x̂ = g·Q(x) on x gives slope g·(1 − D) (a Lloyd-Max/k-means grid satisfies
 * E[x·Q(x)] = E[Q(x)²] = 1 − D), so g = 1/(1 − D) makes E[x̂ | x] ≈ x and attention logits q·k̂
 * unattenuated. The AQUA presets use it.
 */
export function higgsUnbiasedGain(bits: number, dim: 1 | 2): number {
  return 1 / (1 - higgsGridMse(bits, dim));
}
