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
    }
  | {
      /** HIGGS (FORMAT.md "higgs"): read by the token-parallel kernel only, Hadamard block = headDim */
      readonly kind: 'higgs';
      readonly dim: 1 | 2;
      readonly bits: number;
      /** bits of one pair code (a 2-D grid point, or two 1-D levels packed LSB first) */
      readonly codeBits: number;
      readonly block: number;
      readonly blockTokens: number;
      readonly blockWords: number;
      /** u32 words of the fp16 scales at the start of a block (tokens × heads / 2) */
      readonly scaleWords: number;
      /** point of every pair code, interleaved [x0, y0, x1, y1, …] */
      readonly table: Float32Array;
      /** the Hadamard block's seeded signs */
      readonly signs: Float32Array;
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
  /** channels per token (kvHeads × headDim), compiled in */
  readonly channels: number;
}

/** Lanes per token slot and slots per workgroup. */
export const LANES = 8;
export const SLOTS = 16;

/** Whether the fused kernel handles this head dim (dims per lane must be a multiple of 8). */
export function fusedHeadDimSupported(headDim: number): boolean {
  return headDim % 64 === 0 && headDim <= 256;
}

function formatKey(f: KvTileFormat): string {
  if (f.kind === 'uniform')
    return `u${f.bits}${f.axis[0]}${f.groupSize}b${f.blockTokens}w${f.blockWords}g${f.nGroups}`;
  if (f.kind === 'higgs') throw new Error('higgs blocks are read by the token-parallel kernel only');
  return f.kind;
}

/** Cache key of a configuration. */
export function decodeAttentionKey(c: DecodeAttentionConfig): string {
  return `dattn:${c.headDim}:${c.group}:${formatKey(c.keys)}:${formatKey(c.values)}:${c.subgroups ? 'sg' : 'wg'}:t${c.tokensPerIter}:c${c.channels}`;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Bindings and helper functions for reading K (`x = 'k'`) or V (`'v'`) in format `f`. */
function bindingWgsl(x: string, f: KvTileFormat): string {
  const binding = x === 'k' ? 2 : 3;
  if (f.kind === 'f16') return `@group(0) @binding(${binding}) var<storage, read> ${x}buf: array<vec4u>;`;
  const decl = `@group(0) @binding(${binding}) var<storage, read> ${x}buf: array<u32>;`;
  if (f.kind === 'fp8') return decl;
  return `${decl}
fn half_${x}(base: u32, h: u32) -> f32 { return unpack2x16float(${x}buf[base + (h >> 1u)])[h & 1u]; }`;
}

/** Per-lane state declared once (the cached scale/min of channel-axis groups). */
function stateWgsl(x: string, f: KvTileFormat, dpl: number): string {
  if (f.kind !== 'uniform' || f.axis !== 'channel') return '';
  return `  var ${x}key = 0xffffffffu;\n${range(dpl / 4)
    .map((u) => `  var ${x}sc${u} = vec4f(0.0); var ${x}mn${u} = vec4f(0.0);`)
    .join('\n')}`;
}

/**
 * Straight-line WGSL that defines `<pre>0 … <pre>{dpl/4−1}: vec4f`, dims c0 … c0+dpl−1 of token
 * `tok` (an expression) — unrolled in TypeScript so that every array index is a constant and
 * everything stays in registers.
 */
function loadWgsl(x: string, f: KvTileFormat, dpl: number, tok: string, pre: string): string {
  const nv = dpl / 4;
  const L: string[] = [`  let ${pre}t = ${tok};`];
  if (f.kind === 'f16') {
    L.push(`  let ${pre}v = ((b * p.N + ${pre}t) * C + c0) / 8u;`);
    for (const w of range(dpl / 8)) {
      L.push(`  let ${pre}r${w} = ${x}buf[${pre}v + ${w}u];`);
      L.push(`  let ${pre}${2 * w} = vec4f(unpack2x16float(${pre}r${w}.x), unpack2x16float(${pre}r${w}.y));`);
      L.push(
        `  let ${pre}${2 * w + 1} = vec4f(unpack2x16float(${pre}r${w}.z), unpack2x16float(${pre}r${w}.w));`,
      );
    }
    return L.join('\n');
  }
  if (f.kind === 'fp8') {
    L.push(`  let ${pre}w = ((b * p.N + ${pre}t) * C + c0) / 4u;`);
    for (const u of range(nv)) {
      L.push(`  let ${pre}r${u} = ${x}buf[${pre}w + ${u}u];`);
      L.push(
        `  let ${pre}${u} = vec4f(${range(4)
          .map((k) => `e4m3_to_f32((${pre}r${u} >> ${8 * k}u) & 0xffu)`)
          .join(', ')});`,
      );
    }
    return L.join('\n');
  }
  if (f.kind !== 'uniform') throw new Error(`${f.kind} blocks are read by the token-parallel kernel only`);
  const { bits, axis, groupSize: gs, blockTokens: bt, nGroups, blockWords } = f;
  const mask = (1 << bits) - 1;
  const nb = x === 'k' ? 'p.nBlocksK' : 'p.nBlocksV';
  L.push(`  let ${pre}blk = ${pre}t / ${bt}u; let ${pre}ti = ${pre}t % ${bt}u;`);
  L.push(`  let ${pre}base = (b * ${nb} + ${pre}blk) * ${blockWords}u;`);
  // codes as f32, element j
  const code: string[] = [];
  if ((dpl * bits) % 32 === 0) {
    L.push(`  let ${pre}cw = ${pre}base + ${nGroups}u + ((${pre}ti * C + c0) * ${bits}u) / 32u;`);
    for (const w of range((dpl * bits) / 32)) L.push(`  let ${pre}w${w} = ${x}buf[${pre}cw + ${w}u];`);
    for (const j of range(dpl)) {
      const bit = j * bits;
      code.push(
        `(bitcast<f32>(((${pre}w${Math.floor(bit / 32)} >> ${bit % 32}u) & ${mask}u) | 0x4b000000u) - 8388608.0)`,
      );
    }
  } else {
    L.push(`  let ${pre}p0 = (${pre}ti * C + c0) * ${bits}u;`);
    for (const j of range(dpl)) {
      L.push(
        `  let ${pre}q${j} = ${pre}p0 + ${j * bits}u; let ${pre}i${j} = ${pre}base + ${nGroups}u + (${pre}q${j} >> 5u); let ${pre}s${j} = ${pre}q${j} & 31u;`,
      );
      L.push(
        `  let ${pre}c${j} = ((${x}buf[${pre}i${j}] >> ${pre}s${j}) | select(0u, ${x}buf[${pre}i${j} + 1u] << (32u - ${pre}s${j}), ${pre}s${j} + ${bits}u > 32u)) & ${mask}u;`,
      );
      code.push(`(bitcast<f32>(${pre}c${j} | 0x4b000000u) - 8388608.0)`);
    }
  }
  const cv = (u: number) => `vec4f(${code.slice(4 * u, 4 * u + 4).join(', ')})`;
  if (axis === 'channel') {
    L.push(`  let ${pre}key = ${pre}blk * 65536u + ${pre}ti / ${gs}u;`);
    L.push(`  if (${pre}key != ${x}key) {`);
    L.push(`    ${x}key = ${pre}key;`);
    L.push(`    let g0 = (${pre}ti / ${gs}u) * C + c0;`);
    for (const u of range(nv)) {
      const h = (o: number) =>
        range(4)
          .map((k) => `half_${x}(${pre}base, ${o ? `${nGroups}u + ` : ''}g0 + ${4 * u + k}u)`)
          .join(', ');
      L.push(`    ${x}sc${u} = vec4f(${h(0)}); ${x}mn${u} = vec4f(${h(1)});`);
    }
    L.push('  }');
    for (const u of range(nv)) L.push(`  let ${pre}${u} = ${x}mn${u} + ${cv(u)} * ${x}sc${u};`);
  } else if (gs % dpl === 0) {
    L.push(`  let ${pre}g = ${pre}ti * (C / ${gs}u) + c0 / ${gs}u;`);
    L.push(
      `  let ${pre}sc = half_${x}(${pre}base, ${pre}g); let ${pre}mn = half_${x}(${pre}base, ${nGroups}u + ${pre}g);`,
    );
    for (const u of range(nv)) L.push(`  let ${pre}${u} = ${pre}mn + ${cv(u)} * ${pre}sc;`);
  } else {
    for (const u of range(nv)) {
      const el = range(4).map((k) => {
        const j = 4 * u + k;
        const g = `${pre}ti * (C / ${gs}u) + (c0 + ${j}u) / ${gs}u`;
        return `half_${x}(${pre}base, ${nGroups}u + ${g}) + ${code[j]} * half_${x}(${pre}base, ${g})`;
      });
      L.push(`  let ${pre}${u} = vec4f(${el.join(', ')});`);
    }
  }
  return L.join('\n');
}

/**
 * Bindings: 0 = params {N, Hkv, span, nChunks, scale, C, nBlocksK, nBlocksV}, 1 = q f32
 * [B, Hq, D], 2 = keys, 3 = values, 4 = partials f32 [B, Hq, nChunks, D + 2] (max, sum, acc).
 * Dispatch (nChunks, Hkv, B). Everything per lane is unrolled here, in TypeScript.
 */
export function decodeAttentionWgsl(c: DecodeAttentionConfig): string {
  const D = c.headDim;
  const G = c.group;
  const DPL = D / LANES;
  const NV = DPL / 4;
  const WG = LANES * SLOTS;
  const TPI = c.tokensPerIter;
  const H = range(G);
  const T = range(TPI);
  const U = range(NV);
  const body: string[] = [];
  // K of TPI tokens, scores
  for (const t of T) {
    body.push(loadWgsl('k', c.keys, DPL, `min(t0 + i + ${t}u, p.N - 1u)`, `k${t}_`));
    for (const h of H)
      body.push(`    var s${t}_${h} = ${U.map((u) => `dot(q${h}_${u}, k${t}_${u})`).join(' + ')};`);
  }
  // lane sums
  const S = T.flatMap((t) => H.map((h) => `s${t}_${h}`));
  if (c.subgroups) {
    for (const v of S)
      for (const m of [4, 2, 1]) body.push(`    ${v} = ${v} + subgroupShuffleXor(${v}, ${m}u);`);
  } else {
    S.forEach((v, k) => body.push(`    xr[li * ${S.length}u + ${k}u] = ${v};`));
    body.push('    workgroupBarrier();');
    S.forEach((v, k) =>
      body.push(
        `    ${v} = ${range(LANES)
          .map((l) => `xr[(s0 + ${l}u) * ${S.length}u + ${k}u]`)
          .join(' + ')};`,
      ),
    );
    body.push('    workgroupBarrier();');
  }
  // mask, online softmax (one rescale per step)
  for (const t of T)
    for (const h of H) body.push(`    s${t}_${h} = select(s${t}_${h}, NEG, t0 + i + ${t}u >= p.N);`);
  for (const h of H) {
    body.push(
      `    let mt${h} = max(m${h}, ${T.reduce((e, t) => (e ? `max(${e}, s${t}_${h})` : `s${t}_${h}`), '')});`,
    );
    body.push(`    let a${h} = exp(m${h} - mt${h}); m${h} = mt${h};`);
    for (const t of T) body.push(`    let e${t}_${h} = exp(s${t}_${h} - mt${h});`);
    body.push(`    l${h} = l${h} * a${h} + ${T.map((t) => `e${t}_${h}`).join(' + ')};`);
    for (const u of U) body.push(`    acc${h}_${u} = acc${h}_${u} * a${h};`);
  }
  for (const t of T) {
    body.push(loadWgsl('v', c.values, DPL, `min(t0 + i + ${t}u, p.N - 1u)`, `v${t}_`));
    for (const h of H)
      for (const u of U) body.push(`    acc${h}_${u} = acc${h}_${u} + e${t}_${h} * v${t}_${u};`);
  }
  const qload = H.flatMap((h) =>
    U.map(
      (u) =>
        `  let q${h}_${u} = vec4f(${range(4)
          .map((k) => `q[qb + ${h * D}u + lane * ${DPL}u + ${4 * u + k}u]`)
          .join(', ')}) * p.scale;`,
    ),
  );
  const merge = H.map(
    (h) => `  workgroupBarrier();
  if (lane == 0u) { red[rb] = m${h}; red[rb + 1u] = l${h}; }
${U.map((u) =>
  range(4)
    .map((k) => `  red[rb + 2u + lane * ${DPL}u + ${4 * u + k}u] = acc${h}_${u}[${k}];`)
    .join('\n'),
).join('\n')}
  workgroupBarrier();
  merge_head(${h}u, li, hk, b, chunk);`,
  );
  return `${c.subgroups ? 'enable subgroups;' : ''}
const NEG = -1.0e30;
const C = ${c.channels}u;
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
// e4m3 → f32 with integer ops only: normal numbers rebias the exponent (7 → 127), subnormals are m·2^-9
fn e4m3_to_f32(b: u32) -> f32 {
  let mag = b & 0x7fu;
  let normal = bitcast<f32>((mag << 20u) + 0x3c000000u);
  let sub = (bitcast<f32>(mag | 0x4b000000u) - 8388608.0) * 0.001953125;
  return bitcast<f32>(bitcast<u32>(select(normal, sub, mag < 8u)) | ((b & 0x80u) << 24u));
}
${bindingWgsl('k', c.keys)}
${bindingWgsl('v', c.values)}
${c.subgroups ? '' : `var<workgroup> xr: array<f32, ${WG * S.length}>;`}
var<workgroup> red: array<f32, ${SLOTS * (D + 2)}>;
fn merge_head(h: u32, li: u32, hk: u32, b: u32, chunk: u32) {
  let Hq = p.Hkv * ${G}u;
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
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let chunk = wid.x; let hk = wid.y; let b = wid.z;
  let slot = li / ${LANES}u; let lane = li % ${LANES}u;
  let s0 = slot * ${LANES}u;
  let c0 = hk * ${D}u + lane * ${DPL}u;
  let qb = (b * p.Hkv * ${G}u + hk * ${G}u) * ${D}u;
${qload.join('\n')}
${H.map((h) => `  var m${h} = NEG; var l${h} = 0.0;\n${U.map((u) => `  var acc${h}_${u} = vec4f(0.0);`).join('\n')}`).join('\n')}
${stateWgsl('k', c.keys, DPL)}
${stateWgsl('v', c.values, DPL)}
  let t0 = (chunk * ${SLOTS}u + slot) * p.span;
  for (var i = 0u; i < p.span; i = i + ${TPI}u) {
${body.join('\n')}
  }
  let rb = slot * ${D + 2}u;
${merge.join('\n')}
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
