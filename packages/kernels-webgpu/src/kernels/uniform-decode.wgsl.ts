/**
 * Uniform per-group decode (FORMAT.md "uniform"): one thread per value,
 * `x̂ = min + code · scale` with the fp16 scale/min of its group. Status bit 0: a non-finite or
 * negative scale, or a non-finite min (corrupt block).
 */
import { ELEMENTWISE_WG, F16_WGSL, elementwiseMain } from './common.wgsl.js';
import { type UniformKernelConfig, groupIndexWgsl } from './uniform-encode.wgsl.js';

/** WGSL: `half_at(h)` reads fp16 bits number `h` of the u32 array `src` starting at word `base`. */
export function halfReaderWgsl(src: string): string {
  return `fn half_at_${src}(base: u32, h: u32) -> u32 { return (${src}[base + (h >> 1u)] >> ((h & 1u) * 16u)) & 0xffffu; }`;
}

/** WGSL: `code_at_<src>(base, e)`: the `bits`-bit code number `e` of the stream starting at word `base`. */
export function codeReaderWgsl(src: string, bits: number): string {
  return `fn code_at_${src}(base: u32, e: u32) -> u32 {
  let pos = e * ${bits}u;
  let w = base + (pos >> 5u);
  let sh = pos & 31u;
  var v = ${src}[w] >> sh;
  if (sh + ${bits}u > 32u) { v = v | (${src}[w + 1u] << (32u - sh)); }
  return v & ${(1 << bits) - 1}u;
}`;
}

/** Params: T, C, nGroups. Bindings: 1 = block u32 words, 2 = out f32[T·C], 3 = status. */
export function uniformDecodeWgsl(cfg: UniformKernelConfig): string {
  return `${F16_WGSL}
struct P { T: u32, C: u32, nGroups: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> blk: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> status: atomic<u32>;
${groupIndexWgsl(cfg)}
${halfReaderWgsl('blk')}
${codeReaderWgsl('blk', cfg.bits)}
${elementwiseMain(
  ELEMENTWISE_WG,
  `  if (i >= p.T * p.C) { return; }
  let g = group_of(i / p.C, i % p.C);
  let hs = half_at_blk(0u, g);
  let hm = half_at_blk(0u, p.nGroups + g);
  if (!f16_is_finite(hs) || !f16_is_finite(hm) || ((hs & 0x8000u) != 0u && (hs & 0x7fffu) != 0u)) { atomicOr(&status, 1u); }
  let s = f16_bits_to_f32(hs);
  let m = f16_bits_to_f32(hm);
  out[i] = m + f32(code_at_blk(p.nGroups, i)) * s;`,
)}`;
}
