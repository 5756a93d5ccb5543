/**
 * Fitting a scalar codebook to samples: deterministic Lloyd-Max (1-D k-means) on sorted samples
 * with prefix sums, started from equal-count quantiles.
 */
import { InvalidArgumentError, NonFiniteError } from '../errors.js';

/** Options of {@link fitCodebook}. */
export interface FitCodebookOptions {
  /** Most Lloyd iterations (default 300). */
  readonly maxIterations?: number;
  /** Stop when no level moves more than this (default 1e-7 × the samples' standard deviation). */
  readonly tolerance?: number;
}

/** Result of {@link fitCodebook}. */
export interface FittedCodebook {
  /** `2^bits` fp32 levels, strictly ascending (use as `CodebookSpec.codebook`). */
  readonly levels: number[];
  /** Mean squared error of the samples quantized to the nearest level. */
  readonly mse: number;
  /** Lloyd iterations run. */
  readonly iterations: number;
}

function nextUpF32(x: number): number {
  const f = new Float32Array([x]);
  const u = new Int32Array(f.buffer);
  if (x === 0) return 1.401298464324817e-45;
  u[0] = x > 0 ? u[0]! + 1 : u[0]! - 1;
  return f[0]!;
}

/**
 * Fits `2^bits` levels (bits 1..8) minimizing the squared error on `samples` (Lloyd-Max / 1-D
 * k-means). Deterministic: same samples → same levels. Throws {@link NonFiniteError} on NaN/Inf
 * samples and {@link InvalidArgumentError} on an empty sample set or bad bits.
 */
export function fitCodebook(
  samples: Float32Array,
  bits: number,
  opts: FitCodebookOptions = {},
): FittedCodebook {
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) {
    throw new InvalidArgumentError(`fitCodebook: bits must be an integer in 1..8, got ${bits}`);
  }
  const n = samples.length;
  if (n === 0) throw new InvalidArgumentError('fitCodebook: no samples');
  const sorted = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = samples[i]!;
    if (!Number.isFinite(v)) throw new NonFiniteError('fitCodebook samples', i, v);
    sorted[i] = v;
  }
  sorted.sort();
  const prefix = new Float64Array(n + 1);
  const prefix2 = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    prefix[i + 1] = prefix[i]! + sorted[i]!;
    prefix2[i + 1] = prefix2[i]! + sorted[i]! * sorted[i]!;
  }
  const mean = prefix[n]! / n;
  const std = Math.sqrt(Math.max(0, prefix2[n]! / n - mean * mean));
  const tol = opts.tolerance ?? 1e-7 * (std || 1);
  const maxIt = opts.maxIterations ?? 300;
  const N = 1 << bits;
  const L = new Float64Array(N);
  for (let i = 0; i < N; i++) L[i] = sorted[Math.min(n - 1, Math.floor(((i + 0.5) * n) / N))]!;
  // first index with sorted[idx] > t (ties go to the lower cell, as the quantizers do)
  const upper = (t: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (sorted[m]! > t) hi = m;
      else lo = m + 1;
    }
    return lo;
  };
  const bounds = new Int32Array(N + 1);
  let iterations = 0;
  for (let it = 0; it < maxIt; it++) {
    iterations = it + 1;
    bounds[0] = 0;
    bounds[N] = n;
    for (let i = 0; i + 1 < N; i++) bounds[i + 1] = upper(0.5 * (L[i]! + L[i + 1]!));
    let move = 0;
    for (let i = 0; i < N; i++) {
      const a = bounds[i]!;
      const b = bounds[i + 1]!;
      if (b <= a) continue; // empty cell keeps its level
      const c = (prefix[b]! - prefix[a]!) / (b - a);
      move = Math.max(move, Math.abs(c - L[i]!));
      L[i] = c;
    }
    // Lloyd keeps the order, but equal levels can appear with few distinct samples
    if (move <= tol) break;
  }
  const levels: number[] = [];
  for (let i = 0; i < N; i++) {
    let v = Math.fround(L[i]!);
    if (i > 0 && !(v > levels[i - 1]!)) v = nextUpF32(levels[i - 1]!);
    levels.push(v);
  }
  // MSE against the final fp32 levels, by cells (sum over cell of (x − l)²)
  let sse = 0;
  let start = 0;
  for (let i = 0; i < N; i++) {
    const end = i + 1 < N ? upper(0.5 * (levels[i]! + levels[i + 1]!)) : n;
    const cnt = end - start;
    if (cnt > 0) {
      const l = levels[i]!;
      sse += prefix2[end]! - prefix2[start]! - 2 * l * (prefix[end]! - prefix[start]!) + cnt * l * l;
    }
    start = end;
  }
  return { levels, mse: Math.max(0, sse / n), iterations };
}
