/** RMSNorm over the last dim of `x[rows, dim]`: y = x / sqrt(mean(x²) + eps) · weight. */
export function rmsNorm(
  x: Float32Array,
  rows: number,
  dim: number,
  weight: Float32Array,
  eps: number,
  out: Float32Array = new Float32Array(rows * dim),
): Float32Array {
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[o + i]! * x[o + i]!;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) out[o + i] = x[o + i]! * inv * weight[i]!;
  }
  return out;
}
