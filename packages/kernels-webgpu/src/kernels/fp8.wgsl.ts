/**
 * fp8 e4m3fn (OCP): encode (round to nearest even, saturate to ±448; a port of @kvq/core's
 * f32BitsToE4m3) and decode. One thread per u32 word (4 values).
 */
import { ELEMENTWISE_WG, elementwiseMain } from './common.wgsl.js';

/** WGSL function `e4m3_to_f32(b: u32) -> f32` (exact; NaN bytes give ±480: callers flag them). */
export const E4M3_DECODE_WGSL = /* wgsl */ `
fn e4m3_to_f32(b: u32) -> f32 {
  let e = (b >> 3u) & 15u;
  let m = b & 7u;
  let v = select(ldexp(f32(8u + m), i32(e) - 10), f32(m) * 0.001953125, e == 0u);
  return select(v, -v, (b & 0x80u) != 0u);
}
`;

/** Params: n. Bindings: 1 = x f32[n], 2 = out u32[ceil(n/4)]. */
export function fp8EncodeWgsl(): string {
  return `
struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
fn e4m3(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  let sign = (bits >> 24u) & 0x80u;
  let a = bits & 0x7fffffffu;
  if (a > 0x7f800000u) { return sign | 0x7fu; }
  if (a >= 0x43e00000u) { return sign | 0x7eu; }
  if (a >= 0x3c800000u) {
    let r = a - 0x3c000000u;
    let q = (r + 0x7ffffu + ((r >> 20u) & 1u)) >> 20u;
    return sign | min(q, 0x7eu);
  }
  if (a < 0x3a000000u) { return sign; }
  let e = a >> 23u;
  let m = (a & 0x7fffffu) | 0x800000u;
  let shift = 141u - e;
  var q = m >> shift;
  let rem = m & ((1u << shift) - 1u);
  let half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (q & 1u) == 1u)) { q = q + 1u; }
  return sign | q;
}
${elementwiseMain(
  ELEMENTWISE_WG,
  `  let base = 4u * i;
  if (base >= p.n) { return; }
  var w = 0u;
  for (var k = 0u; k < 4u; k = k + 1u) {
    if (base + k < p.n) { w = w | (e4m3(xs[base + k]) << (8u * k)); }
  }
  out[i] = w;`,
)}`;
}

/** Params: n. Bindings: 1 = in u32 words, 2 = out f32[n], 3 = status (bit 0: NaN byte found). */
export function fp8DecodeWgsl(): string {
  return `${E4M3_DECODE_WGSL}
struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> words: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> status: atomic<u32>;
${elementwiseMain(
  ELEMENTWISE_WG,
  `  let base = 4u * i;
  if (base >= p.n) { return; }
  let w = words[i];
  for (var k = 0u; k < 4u; k = k + 1u) {
    if (base + k < p.n) {
      let b = (w >> (8u * k)) & 0xffu;
      if ((b & 0x7fu) == 0x7fu) { atomicOr(&status, 1u); }
      out[base + k] = e4m3_to_f32(b);
    }
  }`,
)}`;
}
