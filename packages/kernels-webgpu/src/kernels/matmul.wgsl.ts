/**
 * Tiled matmul for `linear`: y[rows, out] = x[rows, in] · wᵀ + bias, w `[out, in]` row-major.
 * 64×64 output tiles per workgroup of 16×16 threads, 4×4 outputs per thread, K steps of 16
 * staged in workgroup memory.
 */

/** Params: rows, inDim, outDim, hasBias. Bindings: 1 = x, 2 = w, 3 = bias (≥ 1 element), 4 = y. */
export function matmulWgsl(): string {
  return `struct P { rows: u32, inDim: u32, outDim: u32, hasBias: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
var<workgroup> xs: array<f32, 1088>; // [16 k][64 rows + 4]
var<workgroup> ws: array<f32, 1088>; // [16 k][64 cols + 4]
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r0 = wid.y * 64u; let c0 = wid.x * 64u;
  let tid = lid.y * 16u + lid.x;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < p.inDim; k0 = k0 + 16u) {
    for (var l = tid; l < 1024u; l = l + 256u) {
      let rr = l / 16u; let kk = l % 16u;
      let gk = k0 + kk;
      let xr = r0 + rr; let wc = c0 + rr;
      xs[kk * 68u + rr] = select(0.0, x[xr * p.inDim + gk], xr < p.rows && gk < p.inDim);
      ws[kk * 68u + rr] = select(0.0, w[wc * p.inDim + gk], wc < p.outDim && gk < p.inDim);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk = kk + 1u) {
      var a: array<f32, 4>; var b: array<f32, 4>;
      for (var u = 0u; u < 4u; u = u + 1u) { a[u] = xs[kk * 68u + lid.y * 4u + u]; b[u] = ws[kk * 68u + lid.x * 4u + u]; }
      for (var u = 0u; u < 4u; u = u + 1u) {
        for (var v = 0u; v < 4u; v = v + 1u) { acc[u * 4u + v] = acc[u * 4u + v] + a[u] * b[v]; }
      }
    }
    workgroupBarrier();
  }
  for (var u = 0u; u < 4u; u = u + 1u) {
    let r = r0 + lid.y * 4u + u;
    for (var v = 0u; v < 4u; v = v + 1u) {
      let c = c0 + lid.x * 4u + v;
      if (r < p.rows && c < p.outDim) {
        y[r * p.outDim + c] = acc[u * 4u + v] + select(0.0, bias[c], p.hasBias != 0u);
      }
    }
  }
}`;
}
