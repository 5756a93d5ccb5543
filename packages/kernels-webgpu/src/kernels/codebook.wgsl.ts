/**
 * Codebook (non-uniform, per-group fp16 scale) encode and decode (FORMAT.md "codebook").
 * Encode: `codebookScalesWgsl` (one thread per group: absmax or RMS → fp16 scale),
 * `codebookCodesWgsl` (one thread per value: nearest level by midpoints, ties → lower index),
 * then the generic packer. Decode: one thread per value, `x̂ = L[code] · s`.
 */
import { ELEMENTWISE_WG, F16_WGSL, elementwiseMain } from './common.wgsl.js';
import { bitCodeReaderWgsl } from './pack.wgsl.js';
import { groupIndexWgsl } from './uniform-encode.wgsl.js';

/** Compile-time shape of a codebook kernel. */
export interface CodebookKernelConfig {
  readonly bits: number;
  readonly axis: 'channel' | 'token';
  readonly groupSize: number;
  readonly norm: 'absmax' | 'rms' | 'meanrms';
}

/** Params: T, C, nGroups. Bindings: 1 = x, 2 = fields u32[nGroups·(1 or 2)] (fp16 bits: scales, then means for meanrms), 3 = status. */
export function codebookScalesWgsl(cfg: CodebookKernelConfig): string {
  const gs = cfg.groupSize;
  const loop = (acc: string) =>
    cfg.axis === 'channel'
      ? `  for (var t = tg * ${gs}u; t < t1; t = t + 1u) { let x = xs[t * p.C + c]; ${acc} }`
      : `  for (var k = 0u; k < ${gs}u; k = k + 1u) { let x = xs[base + k]; ${acc} }`;
  const head =
    cfg.axis === 'channel'
      ? `  let tg = i / p.C; let c = i % p.C;
  let t1 = min(p.T, (tg + 1u) * ${gs}u);`
      : `  let base = i * ${gs}u;`;
  const body =
    cfg.norm === 'absmax'
      ? loop('mx = max(mx, abs(x));')
      : cfg.norm === 'rms'
        ? loop('ss = ss + x * x; n = n + 1u;')
        : `${loop('sum = sum + x; n = n + 1u;')}
  hm = f32_to_f16_bits(sum / f32(n));
  if (!f16_is_finite(hm)) { atomicOr(&status, 1u); }
  let mean = f16_bits_to_f32(hm);
  scales[p.nGroups + i] = hm;
${loop('let dx = x - mean; ss = ss + dx * dx;')}`;
  const S = cfg.norm === 'absmax' ? 'mx' : 'sqrt(ss / f32(n))';
  return `${F16_WGSL}
struct P { T: u32, C: u32, nGroups: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> scales: array<u32>;
@group(0) @binding(3) var<storage, read_write> status: atomic<u32>;
${elementwiseMain(
  ELEMENTWISE_WG,
  `  if (i >= p.nGroups) { return; }
  var mx = 0.0; var ss = 0.0; var n = 0u; var sum = 0.0; var hm = 0u;
${head}
${body}
  let h = f32_to_f16_bits(${S});
  if (!f16_is_finite(h)) { atomicOr(&status, 1u); }
  scales[i] = h;`,
)}`;
}

/** Params: T, C, nLevels. Bindings: 1 = x, 2 = scales (fp16 bits per group), 3 = midpoints f32[nLevels−1], 4 = codes u32[T·C]. */
export function codebookCodesWgsl(cfg: CodebookKernelConfig): string {
  return `${F16_WGSL}
struct P { T: u32, C: u32, nLevels: u32, nGroups: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> scales: array<u32>;
@group(0) @binding(3) var<storage, read> mids: array<f32>;
@group(0) @binding(4) var<storage, read_write> codes: array<u32>;
${groupIndexWgsl(cfg)}
${elementwiseMain(
  ELEMENTWISE_WG,
  `  if (i >= p.T * p.C) { return; }
  let g = group_of(i / p.C, i % p.C);
  let s = f16_bits_to_f32(scales[g]);
  let z = select((xs[i] - ${cfg.norm === 'meanrms' ? 'f16_bits_to_f32(scales[p.nGroups + g])' : '0.0'}) / s, 0.0, s == 0.0);
  var code = 0u;
  for (var k = 0u; k + 1u < p.nLevels; k = k + 1u) { if (z > mids[k]) { code = k + 1u; } }
  codes[i] = code;`,
)}`;
}

/** Params: T, C, nGroups. Bindings: 1 = block words, 2 = levels f32, 3 = out f32[T·C], 4 = status. */
export function codebookDecodeWgsl(cfg: CodebookKernelConfig): string {
  return `${F16_WGSL}
struct P { T: u32, C: u32, nGroups: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> blk: array<u32>;
@group(0) @binding(2) var<storage, read> levels: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> status: atomic<u32>;
${groupIndexWgsl(cfg)}
${bitCodeReaderWgsl('blk', cfg.bits)}
${elementwiseMain(
  ELEMENTWISE_WG,
  `  if (i >= p.T * p.C) { return; }
  let g = group_of(i / p.C, i % p.C);
  let hs = half_bits(g);
  if (!f16_is_finite(hs)) { atomicOr(&status, 1u); }
${
  cfg.norm === 'meanrms'
    ? `  let hm = half_bits(p.nGroups + g);
  if (!f16_is_finite(hm)) { atomicOr(&status, 1u); }
  out[i] = levels[code_at(32u * p.nGroups, i)] * f16_bits_to_f32(hs) + f16_bits_to_f32(hm);`
    : '  out[i] = levels[code_at(16u * p.nGroups, i)] * f16_bits_to_f32(hs);'
}`,
)}`;
}
