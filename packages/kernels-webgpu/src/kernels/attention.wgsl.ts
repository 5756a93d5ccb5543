/**
 * General causal GQA attention over fp32 K/V already on the GPU (any qTokens, any head dim):
 * the path `Backend.attention` takes after decoding every segment. Three passes:
 * scores (one thread per query-token × head × key), softmax in place (one workgroup per row),
 * probabilities × values (one thread per output value). Correct for every shape; not the fast
 * path (see decode-attention.wgsl.ts).
 */
import { ELEMENTWISE_WG, elementwiseMain } from './common.wgsl.js';

const PARAMS = 'struct P { qTokens: u32, Hq: u32, Hkv: u32, D: u32, N: u32, qStart: u32, scale: f32 }';

/** Bindings: 1 = q [qTokens, Hq, D], 2 = k [N, Hkv, D], 3 = scores [qTokens, Hq, N]. */
export function attentionScoresWgsl(): string {
  return `${PARAMS}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read_write> s: array<f32>;
${elementwiseMain(
  ELEMENTWISE_WG,
  `  if (i >= p.qTokens * p.Hq * p.N) { return; }
  let j = i % p.N; let row = i / p.N; let h = row % p.Hq; let qt = row / p.Hq;
  if (j > p.qStart + qt) { s[i] = -3.4028234663852886e38; return; }
  let hk = h / (p.Hq / p.Hkv);
  let qb = row * p.D; let kb = (j * p.Hkv + hk) * p.D;
  var acc = 0.0;
  for (var d = 0u; d < p.D; d = d + 1u) { acc = acc + q[qb + d] * k[kb + d]; }
  s[i] = acc * p.scale;`,
)}`;
}

/** One workgroup (64 threads) per row of `scores` [rows, N]: in-place softmax. Params: N. */
export function softmaxRowsWgsl(): string {
  return `struct P { N: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> s: array<f32>;
var<workgroup> red: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  let base = row * p.N;
  var m = -3.4028234663852886e38;
  for (var j = lid; j < p.N; j = j + 64u) { m = max(m, s[base + j]); }
  red[lid] = m;
  workgroupBarrier();
  for (var w = 32u; w > 0u; w = w >> 1u) {
    if (lid < w) { red[lid] = max(red[lid], red[lid + w]); }
    workgroupBarrier();
  }
  m = red[0];
  workgroupBarrier();
  var sum = 0.0;
  for (var j = lid; j < p.N; j = j + 64u) { let e = exp(s[base + j] - m); s[base + j] = e; sum = sum + e; }
  red[lid] = sum;
  workgroupBarrier();
  for (var w = 32u; w > 0u; w = w >> 1u) {
    if (lid < w) { red[lid] = red[lid] + red[lid + w]; }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];
  for (var j = lid; j < p.N; j = j + 64u) { s[base + j] = s[base + j] * inv; }
}`;
}

/** Bindings: 1 = probabilities [qTokens, Hq, N], 2 = v [N, Hkv, D], 3 = out [qTokens, Hq, D]. */
export function attentionValuesWgsl(): string {
  return `${PARAMS}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
${elementwiseMain(
  ELEMENTWISE_WG,
  `  if (i >= p.qTokens * p.Hq * p.D) { return; }
  let d = i % p.D; let row = i / p.D; let h = row % p.Hq; let qt = row / p.Hq;
  let hk = h / (p.Hq / p.Hkv);
  let last = min(p.N, p.qStart + qt + 1u);
  var acc = 0.0;
  for (var j = 0u; j < last; j = j + 1u) { acc = acc + s[row * p.N + j] * v[(j * p.Hkv + hk) * p.D + d]; }
  o[i] = acc;`,
)}`;
}
