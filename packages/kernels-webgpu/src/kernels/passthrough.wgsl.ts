/**
 * fp16 / bf16 passthrough: encode fp32 → 16-bit words (two values per u32, little-endian halves),
 * decode back. One thread per u32 word.
 */
import { ELEMENTWISE_WG, F16_WGSL, elementwiseMain } from './common.wgsl.js';

/** Params: n (values). Bindings: 1 = x f32[n], 2 = out u32[ceil(n/2)], 3 = status (bit 0: value out of range). */
export function passthroughEncodeWgsl(kind: 'fp16' | 'bf16'): string {
  const conv =
    kind === 'fp16'
      ? 'f32_to_f16_bits(x)'
      : '((bitcast<u32>(x) + 0x7fffu + ((bitcast<u32>(x) >> 16u) & 1u)) >> 16u) & 0xffffu';
  const inf = kind === 'fp16' ? '(h & 0x7c00u) == 0x7c00u' : '(h & 0x7f80u) == 0x7f80u';
  return `${F16_WGSL}
struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<storage, read_write> status: atomic<u32>;
fn conv(x: f32) -> u32 {
  let h = ${conv};
  if (${inf}) { atomicOr(&status, 1u); }
  return h;
}
${elementwiseMain(
  ELEMENTWISE_WG,
  `  if (2u * i >= p.n) { return; }
  var w = conv(xs[2u * i]);
  if (2u * i + 1u < p.n) { w = w | (conv(xs[2u * i + 1u]) << 16u); }
  out[i] = w;`,
)}`;
}

/** Params: n. Bindings: 1 = in u32 words, 2 = out f32[n], 3 = status (bit 0: non-finite value). */
export function passthroughDecodeWgsl(kind: 'fp16' | 'bf16'): string {
  const dec = kind === 'fp16' ? 'f16_bits_to_f32(h)' : 'bitcast<f32>(h << 16u)';
  const inf = kind === 'fp16' ? '!f16_is_finite(h)' : '(h & 0x7f80u) == 0x7f80u';
  return `${F16_WGSL}
struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> words: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> status: atomic<u32>;
fn dec(h: u32) -> f32 {
  if (${inf}) { atomicOr(&status, 1u); }
  return ${dec};
}
${elementwiseMain(
  ELEMENTWISE_WG,
  `  if (2u * i >= p.n) { return; }
  let w = words[i];
  out[2u * i] = dec(w & 0xffffu);
  if (2u * i + 1u < p.n) { out[2u * i + 1u] = dec(w >> 16u); }`,
)}`;
}
