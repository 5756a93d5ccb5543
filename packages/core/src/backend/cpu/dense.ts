import { InvalidArgumentError } from '../../errors.js';

function check(what: string, arr: Float32Array, n: number): void {
  if (!(arr instanceof Float32Array) || arr.length !== n) {
    throw new InvalidArgumentError(`${what}: expected a Float32Array of ${n} values, got ${arr?.length}`);
  }
}

/** y[rows, outDim] = x[rows, inDim] · wᵀ + bias (w `[outDim, inDim]`), fp32, 4 rows × 4-way unrolled. */
export function linearCpu(
  x: Float32Array,
  rows: number,
  w: Float32Array,
  inDim: number,
  outDim: number,
  bias?: Float32Array,
): Float32Array {
  check('linear x', x, rows * inDim);
  check('linear w', w, outDim * inDim);
  if (bias) check('linear bias', bias, outDim);
  const y = new Float32Array(rows * outDim);
  for (let o = 0; o < outDim; o++) {
    const wo = o * inDim;
    const b = bias ? bias[o]! : 0;
    for (let r = 0; r < rows; r++) {
      const xo = r * inDim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let i = 0;
      for (; i + 3 < inDim; i += 4) {
        s0 += x[xo + i]! * w[wo + i]!;
        s1 += x[xo + i + 1]! * w[wo + i + 1]!;
        s2 += x[xo + i + 2]! * w[wo + i + 2]!;
        s3 += x[xo + i + 3]! * w[wo + i + 3]!;
      }
      for (; i < inDim; i++) s0 += x[xo + i]! * w[wo + i]!;
      y[r * outDim + o] = b + (s0 + s1) + (s2 + s3);
    }
  }
  return y;
}

/** RMSNorm over the last dim: y = x / sqrt(mean(x²) + eps) · weight. */
export function rmsNormCpu(
  x: Float32Array,
  rows: number,
  dim: number,
  weight: Float32Array,
  eps: number,
): Float32Array {
  check('rmsNorm x', x, rows * dim);
  check('rmsNorm weight', weight, dim);
  const y = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i]! ** 2;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i]! * inv * weight[i]!;
  }
  return y;
}

/** silu(gate) ⊙ up. */
export function swigluCpu(gate: Float32Array, up: Float32Array): Float32Array {
  check('swiglu up', up, gate.length);
  const y = new Float32Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i]!;
    y[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
  return y;
}
