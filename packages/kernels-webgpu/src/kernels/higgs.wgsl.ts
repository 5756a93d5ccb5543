/**
 * HIGGS (FORMAT.md "higgs"): random signs + normalized fast Walsh–Hadamard transform per block of
 * `block` channels of a token, RMS scale (fp16), Gaussian grid (scalar Lloyd-Max levels or 2-D
 * points). One workgroup per (token, Hadamard block), the block in workgroup memory; blocks up
 * to 1024 channels.
 */
import { F16_WGSL } from './common.wgsl.js';
import { bitCodeReaderWgsl } from './pack.wgsl.js';

/** Largest Hadamard block the WGSL kernels handle. */
export const HIGGS_MAX_BLOCK = 1024;

const WG = 128;

function fwhtWgsl(): string {
  return `  for (var h = 1u; h < B; h = h * 2u) {
    for (var q = li; q < B / 2u; q = q + ${WG}u) {
      let k = (q / h) * 2u * h + (q % h);
      let a = y[k]; let b = y[k + h];
      y[k] = a + b; y[k + h] = a - b;
    }
    workgroupBarrier();
  }`;
}

/** Params: T, C, invSqrt (f32). Bindings: 1 = block words, 2 = signs f32[B], 3 = table (levels or interleaved points), 4 = out f32, 5 = status. Dispatch (C/B, T). */
export function higgsDecodeWgsl(block: number, dim: 1 | 2, codeBits: number): string {
  const fetch =
    dim === 1
      ? 'table[code_at(cb, t * p.C + j * B + i)]'
      : 'table[2u * code_at(cb, (t * p.C + j * B + i) / 2u) + (i & 1u)]';
  return `${F16_WGSL}
const B = ${block}u;
struct P { T: u32, C: u32, invSqrt: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> blk: array<u32>;
@group(0) @binding(2) var<storage, read> signs: array<f32>;
@group(0) @binding(3) var<storage, read> table: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> status: atomic<u32>;
var<workgroup> y: array<f32, ${block}>;
${bitCodeReaderWgsl('blk', codeBits)}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let j = wid.x; let t = wid.y;
  let nb = p.C / B;
  let hs = half_bits(t * nb + j);
  if (!f16_is_finite(hs) && li == 0u) { atomicOr(&status, 1u); }
  let s = f16_bits_to_f32(hs);
  let cb = 16u * p.T * nb;
  for (var i = li; i < B; i = i + ${WG}u) { y[i] = ${fetch} * s; }
  workgroupBarrier();
${fwhtWgsl()}
  for (var i = li; i < B; i = i + ${WG}u) { out[t * p.C + j * B + i] = signs[i] * (y[i] * p.invSqrt); }
}`;
}

/**
 * Params: T, C, invSqrt, nTable. Bindings: 1 = x, 2 = signs, 3 = table (levels' midpoints for
 * dim 1, interleaved points for dim 2), 4 = scales u32 [T·C/B] (fp16 bits), 5 = codes u32, 6 = status.
 * Dispatch (C/B, T).
 */
export function higgsEncodeWgsl(block: number, dim: 1 | 2): string {
  const quant =
    dim === 1
      ? `  for (var i = li; i < B; i = i + ${WG}u) {
    let z = select(y[i] / s, 0.0, s == 0.0);
    var code = 0u;
    for (var k = 0u; k < p.nTable; k = k + 1u) { if (z > table[k]) { code = k + 1u; } }
    codes[t * p.C + j * B + i] = code;
  }`
      : `  for (var q = li; q < B / 2u; q = q + ${WG}u) {
    let z0 = select(y[2u * q] / s, 0.0, s == 0.0);
    let z1 = select(y[2u * q + 1u] / s, 0.0, s == 0.0);
    var best = 0u; var bd = 3.4e38;
    for (var k = 0u; k < p.nTable; k = k + 1u) {
      let dx = z0 - table[2u * k]; let dy = z1 - table[2u * k + 1u];
      let d = dx * dx + dy * dy;
      if (d < bd) { bd = d; best = k; }
    }
    codes[(t * p.C + j * B) / 2u + q] = best;
  }`;
  return `${F16_WGSL}
const B = ${block}u;
struct P { T: u32, C: u32, invSqrt: f32, nTable: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> signs: array<f32>;
@group(0) @binding(3) var<storage, read> table: array<f32>;
@group(0) @binding(4) var<storage, read_write> scales: array<u32>;
@group(0) @binding(5) var<storage, read_write> codes: array<u32>;
@group(0) @binding(6) var<storage, read_write> status: atomic<u32>;
var<workgroup> y: array<f32, ${block}>;
var<workgroup> red: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let j = wid.x; let t = wid.y;
  let nb = p.C / B;
  for (var i = li; i < B; i = i + ${WG}u) { y[i] = signs[i] * xs[t * p.C + j * B + i]; }
  workgroupBarrier();
${fwhtWgsl()}
  var ss = 0.0;
  for (var i = li; i < B; i = i + ${WG}u) { let v = y[i] * p.invSqrt; y[i] = v; ss = ss + v * v; }
  red[li] = ss;
  workgroupBarrier();
  for (var w = ${WG / 2}u; w > 0u; w = w >> 1u) {
    if (li < w) { red[li] = red[li] + red[li + w]; }
    workgroupBarrier();
  }
  let hs = f32_to_f16_bits(sqrt(red[0] / f32(B)));
  if (li == 0u) {
    scales[t * nb + j] = hs;
    if (!f16_is_finite(hs)) { atomicOr(&status, 1u); }
  }
  let s = f16_bits_to_f32(hs);
${quant}
}`;
}
