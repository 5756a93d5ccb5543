/**
 * Uniform per-group encode (FORMAT.md "uniform"), two passes:
 * 1. `uniformStatsWgsl`: one thread per group: min/max, fp16 scale and min (bits packed in a u32);
 *    status bit 0 when a scale or min is outside the fp16 range.
 * 2. `uniformPackWgsl`: one thread per output u32 word: the header words (scales then mins, fp16)
 *    or the codes (LSB-first bit stream, token-major) whose bits fall in that word.
 */
import { ELEMENTWISE_WG, F16_WGSL, elementwiseMain } from './common.wgsl.js';

/** Compile-time shape of a uniform quantizer kernel. */
export interface UniformKernelConfig {
  readonly bits: number;
  readonly axis: 'channel' | 'token';
  readonly groupSize: number;
}

/** WGSL: group index of element (t, c) — needs `p.C`. */
export function groupIndexWgsl(cfg: UniformKernelConfig): string {
  return cfg.axis === 'channel'
    ? `fn group_of(t: u32, c: u32) -> u32 { return (t / ${cfg.groupSize}u) * p.C + c; }`
    : `fn group_of(t: u32, c: u32) -> u32 { return t * (p.C / ${cfg.groupSize}u) + c / ${cfg.groupSize}u; }`;
}

/** Params: T, C, nGroups. Bindings: 1 = x f32[T·C], 2 = stats u32[nGroups] (scale bits | min bits << 16), 3 = status. */
export function uniformStatsWgsl(cfg: UniformKernelConfig): string {
  const gs = cfg.groupSize;
  const levels = (1 << cfg.bits) - 1;
  const loop =
    cfg.axis === 'channel'
      ? `  let tg = i / p.C; let c = i % p.C;
  let t1 = min(p.T, (tg + 1u) * ${gs}u);
  for (var t = tg * ${gs}u; t < t1; t = t + 1u) { let x = xs[t * p.C + c]; lo = min(lo, x); hi = max(hi, x); }`
      : `  let base = i * ${gs}u;
  for (var k = 0u; k < ${gs}u; k = k + 1u) { let x = xs[base + k]; lo = min(lo, x); hi = max(hi, x); }`;
  return `${F16_WGSL}
struct P { T: u32, C: u32, nGroups: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<u32>;
@group(0) @binding(3) var<storage, read_write> status: atomic<u32>;
${elementwiseMain(
  ELEMENTWISE_WG,
  `  if (i >= p.nGroups) { return; }
  var lo = 3.4028234663852886e38;
  var hi = -3.4028234663852886e38;
${loop}
  let hs = f32_to_f16_bits((hi - lo) / ${levels}.0);
  let hm = f32_to_f16_bits(lo);
  if (!f16_is_finite(hs) || !f16_is_finite(hm)) { atomicOr(&status, 1u); }
  stats[i] = hs | (hm << 16u);`,
)}`;
}

/** Params: T, C, nGroups, nWords. Bindings: 1 = x f32[T·C], 2 = stats, 3 = out u32[nWords]. */
export function uniformPackWgsl(cfg: UniformKernelConfig): string {
  const b = cfg.bits;
  const levels = (1 << b) - 1;
  return `${F16_WGSL}
struct P { T: u32, C: u32, nGroups: u32, nWords: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
${groupIndexWgsl(cfg)}
fn header_half(h: u32) -> u32 {
  if (h < p.nGroups) { return stats[h] & 0xffffu; }
  return stats[h - p.nGroups] >> 16u;
}
fn code_of(e: u32) -> u32 {
  let t = e / p.C; let c = e % p.C;
  let st = stats[group_of(t, c)];
  let s = f16_bits_to_f32(st & 0xffffu);
  if (s == 0.0) { return 0u; }
  let m = f16_bits_to_f32(st >> 16u);
  let q = round_away((xs[e] - m) / s);
  return u32(clamp(q, 0.0, ${levels}.0));
}
${elementwiseMain(
  ELEMENTWISE_WG,
  `  if (i >= p.nWords) { return; }
  if (i < p.nGroups) { out[i] = header_half(2u * i) | (header_half(2u * i + 1u) << 16u); return; }
  let cw = i - p.nGroups;
  let n = p.T * p.C;
  let bit0 = cw * 32u;
  let e0 = bit0 / ${b}u;
  let e1 = min(n, (bit0 + 32u + ${b - 1}u) / ${b}u);
  var w = 0u;
  for (var e = e0; e < e1; e = e + 1u) {
    let code = code_of(e);
    let pos = e * ${b}u;
    if (pos >= bit0) { w = w | (code << (pos - bit0)); } else { w = w | (code >> (bit0 - pos)); }
  }
  out[i] = w;`,
)}`;
}
