import { InvalidArgumentError } from '@kvq/core';

/**
 * Accumulates the normal equations of a least-squares fit `Y ≈ [X, 1] · Wᵀ` in float64, so that
 * calibration can stream tokens through in bounded memory (`inDim + 1`² + (inDim + 1)·outDim doubles).
 */
export class NormalEquations {
  readonly inDim: number;
  readonly outDim: number;
  /** (inDim+1)² Gram matrix of [X, 1] */
  readonly xtx: Float64Array;
  /** (inDim+1) × outDim */
  readonly xty: Float64Array;
  /** Σ y and Σ y² per output (for explained variance) */
  readonly ySum: Float64Array;
  readonly ySqSum: Float64Array;
  rows = 0;

  constructor(inDim: number, outDim: number) {
    if (!Number.isInteger(inDim) || inDim <= 0 || !Number.isInteger(outDim) || outDim <= 0) {
      throw new InvalidArgumentError(
        `NormalEquations: dims must be positive integers, got ${inDim}×${outDim}`,
      );
    }
    this.inDim = inDim;
    this.outDim = outDim;
    const n = inDim + 1;
    this.xtx = new Float64Array(n * n);
    this.xty = new Float64Array(n * outDim);
    this.ySum = new Float64Array(outDim);
    this.ySqSum = new Float64Array(outDim);
  }

  /** Adds `rows` samples: x `[rows, inDim]`, y `[rows, outDim]` (row-major fp32). */
  add(x: Float32Array, y: Float32Array, rows: number): void {
    const { inDim, outDim } = this;
    if (x.length !== rows * inDim || y.length !== rows * outDim) {
      throw new InvalidArgumentError(
        `NormalEquations.add: expected x [${rows}, ${inDim}] and y [${rows}, ${outDim}], got ${x.length} and ${y.length} values`,
      );
    }
    const n = inDim + 1;
    const xi = new Float64Array(n);
    const { xtx, xty, ySum, ySqSum } = this;
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < inDim; i++) xi[i] = x[r * inDim + i]!;
      xi[inDim] = 1;
      // upper triangle of the Gram matrix
      for (let i = 0; i < n; i++) {
        const a = xi[i]!;
        if (a === 0) continue;
        const row = i * n;
        for (let j = i; j < n; j++) xtx[row + j]! += a * xi[j]!;
      }
      const yo = r * outDim;
      for (let i = 0; i < n; i++) {
        const a = xi[i]!;
        if (a === 0) continue;
        const row = i * outDim;
        for (let o = 0; o < outDim; o++) xty[row + o]! += a * y[yo + o]!;
      }
      for (let o = 0; o < outDim; o++) {
        const v = y[yo + o]!;
        ySum[o]! += v;
        ySqSum[o]! += v * v;
      }
    }
    this.rows += rows;
  }
}

/** In-place Cholesky factorisation A = L·Lᵀ of a symmetric positive definite n×n matrix (lower triangle used). */
export function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let k = 0; k < j; k++) d -= l[j * n + k]! * l[j * n + k]!;
    if (!(d > 0))
      throw new InvalidArgumentError(`cholesky: matrix is not positive definite (pivot ${j} = ${d})`);
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/** Solves L·Lᵀ·X = B for X (B is n × m, overwritten and returned). */
export function choleskySolve(l: Float64Array, n: number, b: Float64Array, m: number): Float64Array {
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) {
      let s = b[i * m + c]!;
      for (let k = 0; k < i; k++) s -= l[i * n + k]! * b[k * m + c]!;
      b[i * m + c] = s / l[i * n + i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = b[i * m + c]!;
      for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * b[k * m + c]!;
      b[i * m + c] = s / l[i * n + i]!;
    }
  }
  return b;
}

/** A fitted affine map `y = x · weightᵀ + bias`, weight `[outDim, inDim]`. */
export interface LinearFit {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
}

/**
 * Ridge regression as AQUA-KV's reference code does it: λ = `lambdaScale` × mean(diag(XᵀX)) added
 * to the diagonal of the inputs' Gram matrix (the bias is not penalized), solved in float64 by Cholesky.
 */
export function solveRidge(eq: NormalEquations, lambdaScale = 1e-3): LinearFit {
  const { inDim, outDim } = eq;
  if (eq.rows === 0) throw new InvalidArgumentError('solveRidge: no samples were added');
  const n = inDim + 1;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = eq.xtx[i * n + j]!;
  let diag = 0;
  for (let i = 0; i < inDim; i++) diag += a[i * n + i]!;
  const lambda = lambdaScale * (diag / inDim) + 1e-12;
  for (let i = 0; i < inDim; i++) a[i * n + i]! += lambda;
  const l = cholesky(a, n);
  const sol = choleskySolve(l, n, Float64Array.from(eq.xty), outDim); // [n, outDim]
  const weight = new Float32Array(outDim * inDim);
  const bias = new Float32Array(outDim);
  for (let o = 0; o < outDim; o++) {
    for (let i = 0; i < inDim; i++) weight[o * inDim + i] = sol[i * outDim + o]!;
    bias[o] = sol[inDim * outDim + o]!;
  }
  return { weight, bias };
}

/** y[rows, outDim] = x[rows, inDim] · weightᵀ + bias (fp32). */
export function applyLinear(fit: LinearFit, x: Float32Array, rows: number, inDim: number): Float32Array {
  const outDim = fit.bias.length;
  const y = new Float32Array(rows * outDim);
  const w = fit.weight;
  for (let r = 0; r < rows; r++) {
    const xo = r * inDim;
    for (let o = 0; o < outDim; o++) {
      let s = fit.bias[o]!;
      const wo = o * inDim;
      for (let i = 0; i < inDim; i++) s += x[xo + i]! * w[wo + i]!;
      y[r * outDim + o] = s;
    }
  }
  return y;
}
