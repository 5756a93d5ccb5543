/**
 * Fused decode attention (one query token per sequence, GQA, batches) that reads the K/V cache
 * in its stored form — fp16, fp8 e4m3 or uniform per-group codes (KIVI-style) — and never
 * writes a dequantized copy. Flash-decoding split: each workgroup takes one (batch, kv head,
 * chunk of tokens); its 128 threads are 16 token slots × 8 lanes, a lane holding headDim/8
 * dims of the G = queryHeads/kvHeads query heads; each slot runs an online softmax over its own
 * tokens, slots are merged in workgroup memory, and `decodeAttentionReduceWgsl` merges chunks.
 * Lane sums use `subgroupShuffleXor` when the device has subgroups (of at least 8 invocations),
 * else workgroup memory and barriers.
 */

/** How one of K or V is stored on the GPU, per sequence `[N tokens, C = kvHeads·headDim]`. */
export type KvTileFormat =
  | { readonly kind: 'f16' }
  | { readonly kind: 'fp8' }
  | {
      readonly kind: 'uniform';
      readonly bits: number;
      readonly axis: 'channel' | 'token';
      readonly groupSize: number;
      /** tokens per encoded block (blocks of one sequence are consecutive) */
      readonly blockTokens: number;
      /** groups per block */
      readonly nGroups: number;
      /** u32 words per block (the block's bytes padded to 4) */
      readonly blockWords: number;
    };

/** Compile-time configuration of the fused kernel. */
export interface DecodeAttentionConfig {
  readonly headDim: number;
  /** query heads per kv head */
  readonly group: number;
  readonly keys: KvTileFormat;
  readonly values: KvTileFormat;
  readonly subgroups: boolean;
  /** tokens each slot processes per loop iteration (independent loads and lane sums in flight); span is a multiple */
  readonly tokensPerIter: number;
}

/** Lanes per token slot and slots per workgroup. */
export const LANES = 8;
export const SLOTS = 16;

/** Whether the fused kernel handles this head dim (dims per lane must be a multiple of 8). */
export function fusedHeadDimSupported(headDim: number): boolean {
  return headDim % 64 === 0 && headDim <= 256;
}

function formatKey(f: KvTileFormat): string {
  return f.kind === 'uniform'
    ? `u${f.bits}${f.axis[0]}${f.groupSize}b${f.blockTokens}w${f.blockWords}g${f.nGroups}`
    : f.kind;
}

/** Cache key of a configuration. */
export function decodeAttentionKey(c: DecodeAttentionConfig): string {
  return `dattn:${c.headDim}:${c.group}:${formatKey(c.keys)}:${formatKey(c.values)}:${c.subgroups ? 'sg' : 'wg'}:t${c.tokensPerIter}`;
}

/** WGSL of a loader `load_<x>(b, tok, c0, st) -> array<f32, DPL>` returning dims c0..c0+DPL−1 of token tok. */
function loaderWgsl(x: string, f: KvTileFormat, dpl: number): string {
  const R = `array<f32, ${dpl}>`;
  if (f.kind === 'f16') {
    return `@group(0) @binding(${x === 'k' ? 2 : 3}) var<storage, read> ${x}buf: array<vec4u>;
struct St_${x} { key: u32 }
fn load_${x}(b: u32, tok: u32, c0: u32, st: ptr<function, St_${x}>) -> ${R} {
  var r: ${R};
  let v0 = ((b * p.N + tok) * p.C + c0) / 8u;
  for (var u = 0u; u < ${dpl / 8}u; u = u + 1u) {
    let w = ${x}buf[v0 + u];
    let a = unpack2x16float(w.x); let bb = unpack2x16float(w.y);
    let c = unpack2x16float(w.z); let d = unpack2x16float(w.w);
    r[u * 8u] = a.x; r[u * 8u + 1u] = a.y; r[u * 8u + 2u] = bb.x; r[u * 8u + 3u] = bb.y;
    r[u * 8u + 4u] = c.x; r[u * 8u + 5u] = c.y; r[u * 8u + 6u] = d.x; r[u * 8u + 7u] = d.y;
  }
  return r;
}`;
  }
  if (f.kind === 'fp8') {
    return `@group(0) @binding(${x === 'k' ? 2 : 3}) var<storage, read> ${x}buf: array<u32>;
struct St_${x} { key: u32 }
fn load_${x}(b: u32, tok: u32, c0: u32, st: ptr<function, St_${x}>) -> ${R} {
  var r: ${R};
  let w0 = ((b * p.N + tok) * p.C + c0) / 4u;
  for (var u = 0u; u < ${dpl / 4}u; u = u + 1u) {
    let w = ${x}buf[w0 + u];
    for (var k = 0u; k < 4u; k = k + 1u) { r[u * 4u + k] = e4m3_to_f32((w >> (8u * k)) & 0xffu); }
  }
  return r;
}`;
  }
  const { bits, axis, groupSize: gs, blockTokens: bt, nGroups, blockWords } = f;
  const mask = (1 << bits) - 1;
  const nb = x === 'k' ? 'p.nBlocksK' : 'p.nBlocksV';
  // Codes of one lane are word-aligned when dpl·bits and C·bits are multiples of 32 (C is a multiple of dpl).
  const aligned = (dpl * bits) % 32 === 0;
  const codes = aligned
    ? `  let cw = base + ${nGroups}u + ((ti * p.C + c0) * ${bits}u) / 32u;
  for (var u = 0u; u < ${(dpl * bits) / 32}u; u = u + 1u) {
    let w = ${x}buf[cw + u];
    for (var k = 0u; k < ${32 / bits}u; k = k + 1u) { codes[u * ${32 / bits}u + k] = (w >> (k * ${bits}u)) & ${mask}u; }
  }`
    : `  for (var j = 0u; j < ${dpl}u; j = j + 1u) {
    let pos = (ti * p.C + c0 + j) * ${bits}u;
    let w = base + ${nGroups}u + (pos >> 5u); let sh = pos & 31u;
    var v = ${x}buf[w] >> sh;
    if (sh + ${bits}u > 32u) { v = v | (${x}buf[w + 1u] << (32u - sh)); }
    codes[j] = v & ${mask}u;
  }`;
  const half = `fn half_${x}(base: u32, h: u32) -> f32 { return f16_bits_to_f32((${x}buf[base + (h >> 1u)] >> ((h & 1u) * 16u)) & 0xffffu); }`;
  let scales: string;
  if (axis === 'channel') {
    // scale/min of dims c0.. of token group tg: cached per (block, token group)
    scales = `  let key = blk * 65536u + ti / ${gs}u + 1u;
  if ((*st).key != key) {
    (*st).key = key;
    let g0 = (ti / ${gs}u) * p.C + c0;
    for (var j = 0u; j < ${dpl}u; j = j + 1u) { (*st).sc[j] = half_${x}(base, g0 + j); (*st).mn[j] = half_${x}(base, ${nGroups}u + g0 + j); }
  }
  for (var j = 0u; j < ${dpl}u; j = j + 1u) { r[j] = (*st).mn[j] + f32(codes[j]) * (*st).sc[j]; }`;
  } else if (gs % dpl === 0) {
    scales = `  let g = ti * (p.C / ${gs}u) + c0 / ${gs}u;
  let s = half_${x}(base, g); let m = half_${x}(base, ${nGroups}u + g);
  for (var j = 0u; j < ${dpl}u; j = j + 1u) { r[j] = m + f32(codes[j]) * s; }`;
  } else {
    scales = `  for (var j = 0u; j < ${dpl}u; j = j + 1u) {
    let g = ti * (p.C / ${gs}u) + (c0 + j) / ${gs}u;
    r[j] = half_${x}(base, ${nGroups}u + g) + f32(codes[j]) * half_${x}(base, g);
  }`;
  }
  return `@group(0) @binding(${x === 'k' ? 2 : 3}) var<storage, read> ${x}buf: array<u32>;
struct St_${x} { key: u32, sc: array<f32, ${dpl}>, mn: array<f32, ${dpl}> }
${half}
fn load_${x}(b: u32, tok: u32, c0: u32, st: ptr<function, St_${x}>) -> ${R} {
  var r: ${R};
  var codes: array<u32, ${dpl}>;
  let blk = tok / ${bt}u; let ti = tok % ${bt}u;
  let base = (b * ${nb} + blk) * ${blockWords}u;
${codes}
${scales}
  return r;
}`;
}

/**
 * Bindings: 0 = params {N, Hkv, span, nChunks, scale, C, nBlocksK, nBlocksV}, 1 = q f32
 * [B, Hq, D], 2 = keys, 3 = values, 4 = partials f32 [B, Hq, nChunks, D + 2] (max, sum, acc).
 * Dispatch (nChunks, Hkv, B).
 */
export function decodeAttentionWgsl(c: DecodeAttentionConfig): string {
  const D = c.headDim;
  const G = c.group;
  const DPL = D / LANES;
  const WG = LANES * SLOTS;
  const TPI = c.tokensPerIter;
  const NS = TPI * G; // lane sums per iteration
  const reduce = c.subgroups
    ? `fn reduce_lanes(pd: ptr<function, array<f32, ${NS}>>, li: u32) {
  for (var h = 0u; h < ${NS}u; h = h + 1u) {
    var v = (*pd)[h];
    v = v + subgroupShuffleXor(v, 4u);
    v = v + subgroupShuffleXor(v, 2u);
    v = v + subgroupShuffleXor(v, 1u);
    (*pd)[h] = v;
  }
}`
    : `var<workgroup> xr: array<f32, ${WG * NS}>;
fn reduce_lanes(pd: ptr<function, array<f32, ${NS}>>, li: u32) {
  for (var h = 0u; h < ${NS}u; h = h + 1u) { xr[li * ${NS}u + h] = (*pd)[h]; }
  workgroupBarrier();
  let s0 = (li / ${LANES}u) * ${LANES}u;
  for (var h = 0u; h < ${NS}u; h = h + 1u) {
    var v = 0.0;
    for (var l = 0u; l < ${LANES}u; l = l + 1u) { v = v + xr[(s0 + l) * ${NS}u + h]; }
    (*pd)[h] = v;
  }
  workgroupBarrier();
}`;
  return `${c.subgroups ? 'enable subgroups;' : ''}
const NEG = -1.0e30;
struct P { N: u32, Hkv: u32, span: u32, nChunks: u32, scale: f32, C: u32, nBlocksK: u32, nBlocksV: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(4) var<storage, read_write> part: array<f32>;
fn f16_bits_to_f32(h: u32) -> f32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) { let v = f32(m) * 5.9604644775390625e-8; return select(v, -v, sign != 0u); }
  return bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u));
}
fn e4m3_to_f32(b: u32) -> f32 {
  let e = (b >> 3u) & 15u;
  let m = b & 7u;
  let v = select(ldexp(f32(8u + m), i32(e) - 10), f32(m) * 0.001953125, e == 0u);
  return select(v, -v, (b & 0x80u) != 0u);
}
${loaderWgsl('k', c.keys, DPL)}
${loaderWgsl('v', c.values, DPL)}
${reduce}
var<workgroup> red: array<f32, ${SLOTS * (D + 2)}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let chunk = wid.x; let hk = wid.y; let b = wid.z;
  let slot = li / ${LANES}u; let lane = li % ${LANES}u;
  let Hq = p.Hkv * ${G}u;
  let c0 = hk * ${D}u + lane * ${DPL}u;
  var qr: array<f32, ${G * DPL}>;
  for (var h = 0u; h < ${G}u; h = h + 1u) {
    for (var j = 0u; j < ${DPL}u; j = j + 1u) { qr[h * ${DPL}u + j] = q[(b * Hq + hk * ${G}u + h) * ${D}u + lane * ${DPL}u + j] * p.scale; }
  }
  var acc: array<f32, ${G * DPL}>;
  var m: array<f32, ${G}>;
  var l: array<f32, ${G}>;
  for (var h = 0u; h < ${G}u; h = h + 1u) { m[h] = NEG; }
  var stk: St_k; var stv: St_v;
  stk.key = 0u; stv.key = 0u;
  let t0 = (chunk * ${SLOTS}u + slot) * p.span;
  for (var i = 0u; i < p.span; i = i + ${TPI}u) {
    var sc: array<f32, ${NS}>;
    for (var t = 0u; t < ${TPI}u; t = t + 1u) {
      let kv = load_k(b, min(t0 + i + t, p.N - 1u), c0, &stk);
      for (var h = 0u; h < ${G}u; h = h + 1u) {
        var d = 0.0;
        for (var j = 0u; j < ${DPL}u; j = j + 1u) { d = d + qr[h * ${DPL}u + j] * kv[j]; }
        sc[t * ${G}u + h] = d;
      }
    }
    reduce_lanes(&sc, li);
    for (var t = 0u; t < ${TPI}u; t = t + 1u) {
      if (t0 + i + t >= p.N) { for (var h = 0u; h < ${G}u; h = h + 1u) { sc[t * ${G}u + h] = NEG; } }
    }
    for (var h = 0u; h < ${G}u; h = h + 1u) {
      var mt = m[h];
      for (var t = 0u; t < ${TPI}u; t = t + 1u) { mt = max(mt, sc[t * ${G}u + h]); }
      let a = exp(m[h] - mt);
      m[h] = mt;
      var ls = l[h] * a;
      for (var t = 0u; t < ${TPI}u; t = t + 1u) { let e = exp(sc[t * ${G}u + h] - mt); sc[t * ${G}u + h] = e; ls = ls + e; }
      l[h] = ls;
      for (var j = 0u; j < ${DPL}u; j = j + 1u) { acc[h * ${DPL}u + j] = acc[h * ${DPL}u + j] * a; }
    }
    for (var t = 0u; t < ${TPI}u; t = t + 1u) {
      let vv = load_v(b, min(t0 + i + t, p.N - 1u), c0, &stv);
      for (var h = 0u; h < ${G}u; h = h + 1u) {
        let e = sc[t * ${G}u + h];
        for (var j = 0u; j < ${DPL}u; j = j + 1u) { acc[h * ${DPL}u + j] = acc[h * ${DPL}u + j] + e * vv[j]; }
      }
    }
  }
  for (var h = 0u; h < ${G}u; h = h + 1u) {
    workgroupBarrier();
    let rb = slot * ${D + 2}u;
    if (lane == 0u) { red[rb] = m[h]; red[rb + 1u] = l[h]; }
    for (var j = 0u; j < ${DPL}u; j = j + 1u) { red[rb + 2u + lane * ${DPL}u + j] = acc[h * ${DPL}u + j]; }
    workgroupBarrier();
    var M = NEG;
    for (var s = 0u; s < ${SLOTS}u; s = s + 1u) { M = max(M, red[s * ${D + 2}u]); }
    let o = ((b * Hq + hk * ${G}u + h) * p.nChunks + chunk) * ${D + 2}u;
    for (var d = li; d < ${D}u; d = d + ${WG}u) {
      var L = 0.0; var A = 0.0;
      for (var s = 0u; s < ${SLOTS}u; s = s + 1u) {
        let f = exp(red[s * ${D + 2}u] - M);
        L = L + red[s * ${D + 2}u + 1u] * f;
        A = A + red[s * ${D + 2}u + 2u + d] * f;
      }
      if (d == 0u) { part[o] = M; part[o + 1u] = L; }
      part[o + 2u + d] = A;
    }
  }
}`;
}

/** Params {nChunks}. Bindings: 1 = partials [rows, nChunks, D + 2], 2 = out f32 [rows, D]. One workgroup per row (b·Hq + h). */
export function decodeAttentionReduceWgsl(D: number): string {
  return `struct P { nChunks: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.y * nwg.x + wid.x;
  let base = row * p.nChunks * ${D + 2}u;
  var M = -1.0e30;
  for (var c = 0u; c < p.nChunks; c = c + 1u) { M = max(M, part[base + c * ${D + 2}u]); }
  for (var d = li; d < ${D}u; d = d + 128u) {
    var L = 0.0; var A = 0.0;
    for (var c = 0u; c < p.nChunks; c = c + 1u) {
      let o = base + c * ${D + 2}u;
      let f = exp(part[o] - M);
      L = L + part[o + 1u] * f;
      A = A + part[o + 2u + d] * f;
    }
    out[row * ${D}u + d] = A / L;
  }
}`;
}
