/** Pseudo-random data generated on the GPU (benchmarks): x = mean + std·(sum of 4 uniforms − 2)·√3, per-channel offsets. */
export function genWgsl(): string {
  return `struct P { n: u32, seed: u32, C: u32, sd: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
fn hash(v: u32) -> u32 {
  var h = v * 747796405u + 2891336453u;
  h = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
  return (h >> 22u) ^ h;
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= p.n) { return; }
  var s = 0.0;
  var h = i ^ (p.seed * 0x9e3779b9u);
  for (var k = 0u; k < 4u; k = k + 1u) { h = hash(h + k); s = s + f32(h) * 2.3283064365386963e-10; }
  let c = i % p.C;
  let offset = f32(hash(c ^ p.seed) % 1000u) * 0.002 - 1.0;
  x[i] = offset + p.sd * (s - 2.0) * 1.7320508;
}`;
}
