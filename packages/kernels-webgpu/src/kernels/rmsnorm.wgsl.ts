/** RMSNorm over the last dim: y = x / sqrt(mean(x²) + eps) · weight. One workgroup (128 threads) per row. */

/** Params: dim, eps. Bindings: 1 = x [rows, dim], 2 = weight [dim], 3 = y. */
export function rmsNormWgsl(): string {
  return `struct P { dim: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
var<workgroup> red: array<f32, 128>;
@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  let base = row * p.dim;
  var ss = 0.0;
  for (var j = lid; j < p.dim; j = j + 128u) { let v = x[base + j]; ss = ss + v * v; }
  red[lid] = ss;
  workgroupBarrier();
  for (var w = 64u; w > 0u; w = w >> 1u) {
    if (lid < w) { red[lid] = red[lid] + red[lid + w]; }
    workgroupBarrier();
  }
  let inv = 1.0 / sqrt(red[0] / f32(p.dim) + p.eps);
  for (var j = lid; j < p.dim; j = j + 128u) { y[base + j] = x[base + j] * inv * wt[j]; }
}`;
}
