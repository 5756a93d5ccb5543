/**
 * y[rows, outDim] = x[rows, inDim] · wᵀ (+ bias), w row-major `[outDim, inDim]`: every output is a
 * dot product of two contiguous rows. Register-tiled: 4 weight rows × 4 input rows at a time
 * (16 accumulators), so each loaded value is used four times. Synchronous, single-threaded.
 */
export function matmulTransposed(
  x: Float32Array,
  rows: number,
  w: Float32Array,
  inDim: number,
  outDim: number,
  bias?: Float32Array,
  out: Float32Array = new Float32Array(rows * outDim),
): Float32Array {
  const n = inDim;
  let o = 0;
  for (; o + 4 <= outDim; o += 4) {
    const w0 = o * n;
    const w1 = w0 + n;
    const w2 = w1 + n;
    const w3 = w2 + n;
    let r = 0;
    for (; r + 4 <= rows; r += 4) {
      const x0 = r * n;
      const x1 = x0 + n;
      const x2 = x1 + n;
      const x3 = x2 + n;
      let a00 = 0;
      let a01 = 0;
      let a02 = 0;
      let a03 = 0;
      let a10 = 0;
      let a11 = 0;
      let a12 = 0;
      let a13 = 0;
      let a20 = 0;
      let a21 = 0;
      let a22 = 0;
      let a23 = 0;
      let a30 = 0;
      let a31 = 0;
      let a32 = 0;
      let a33 = 0;
      for (let i = 0; i < n; i++) {
        const v0 = x[x0 + i]!;
        const v1 = x[x1 + i]!;
        const v2 = x[x2 + i]!;
        const v3 = x[x3 + i]!;
        const c0 = w[w0 + i]!;
        const c1 = w[w1 + i]!;
        const c2 = w[w2 + i]!;
        const c3 = w[w3 + i]!;
        a00 += v0 * c0;
        a01 += v0 * c1;
        a02 += v0 * c2;
        a03 += v0 * c3;
        a10 += v1 * c0;
        a11 += v1 * c1;
        a12 += v1 * c2;
        a13 += v1 * c3;
        a20 += v2 * c0;
        a21 += v2 * c1;
        a22 += v2 * c2;
        a23 += v2 * c3;
        a30 += v3 * c0;
        a31 += v3 * c1;
        a32 += v3 * c2;
        a33 += v3 * c3;
      }
      let y = r * outDim + o;
      out[y] = a00;
      out[y + 1] = a01;
      out[y + 2] = a02;
      out[y + 3] = a03;
      y += outDim;
      out[y] = a10;
      out[y + 1] = a11;
      out[y + 2] = a12;
      out[y + 3] = a13;
      y += outDim;
      out[y] = a20;
      out[y + 1] = a21;
      out[y + 2] = a22;
      out[y + 3] = a23;
      y += outDim;
      out[y] = a30;
      out[y + 1] = a31;
      out[y + 2] = a32;
      out[y + 3] = a33;
    }
    for (; r < rows; r++) {
      const x0 = r * n;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let i = 0; i < n; i++) {
        const v = x[x0 + i]!;
        a0 += v * w[w0 + i]!;
        a1 += v * w[w1 + i]!;
        a2 += v * w[w2 + i]!;
        a3 += v * w[w3 + i]!;
      }
      const y = r * outDim + o;
      out[y] = a0;
      out[y + 1] = a1;
      out[y + 2] = a2;
      out[y + 3] = a3;
    }
  }
  for (; o < outDim; o++) {
    const w0 = o * n;
    for (let r = 0; r < rows; r++) {
      const x0 = r * n;
      let a = 0;
      for (let i = 0; i < n; i++) a += x[x0 + i]! * w[w0 + i]!;
      out[r * outDim + o] = a;
    }
  }
  if (bias) {
    for (let r = 0; r < rows; r++) for (let j = 0; j < outDim; j++) out[r * outDim + j] += bias[j]!;
  }
  return out;
}
