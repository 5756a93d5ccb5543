/**
 * Token-parallel fused decode attention over compressed K/V (uniform per-group codes, KIVI-style,
 * and HIGGS Hadamard-domain codes), designed for fp32 ALUs without packed-f16 math.
 *
 * One workgroup of 128 threads takes (batch, kv head, chunk of `tiles` tiles of TT = 128·TPT
 * tokens). Per tile:
 * - **keys**, one thread per TPT adjacent tokens, the whole head: each code is extracted once
 *   (shift + mask|exponent: `1 + code·2^-bits` as an f32 bit pattern) and costs one FMA per query
 *   head, against query weights held in workgroup memory and shared by the TPT tokens:
 *   uniform channel groups fold `q·scale·2^bits` per channel and `Σ q·(min − scale·2^bits)` per
 *   group once per tile; HIGGS rotates the query once per workgroup (`q̃ = H(signs ⊙ q)`) and looks
 *   pair codes up in the grid table (`score = scale_t · q̃·level(code_t)`);
 * - **softmax**: the tile max per head through `subgroupMax` (when available) and a workgroup
 *   `atomicMax` on order-preserving bits, one rescale per tile and only when the max moved;
 * - **values**, threads own (CPT channels × tokens): per token the weight `p·scale` (and the
 *   per-group bias `p·(min − scale·2^bits)`) is folded once, so each code again costs one FMA per
 *   query head; HIGGS values accumulate in the rotated domain and are rotated back once, after the
 *   split combine (`decodeAttentionReduceWgsl` with `rotate`).
 * Partials are written in the layout of the original kernel (max, sum, acc[D]).
 */
import type { KvTileFormat } from './decode-attention.wgsl.js';

/** Threads per workgroup. */
export const TP_THREADS = 128;

/**
 * Parameters and bindings 0–4 shared by the split (flash-decoding) kernels over compressed K/V:
 * params {N, Hkv, tiles, nChunks, scale, nBlocksK, nBlocksV}, q, keys, values, partials.
 */
export const SPLIT_ATTENTION_BINDINGS = `const NEG = -1.0e30;
struct P { N: u32, Hkv: u32, tiles: u32, nChunks: u32, scale: f32, nBlocksK: u32, nBlocksV: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kbuf: array<u32>;
@group(0) @binding(3) var<storage, read> vbuf: array<u32>;
@group(0) @binding(4) var<storage, read_write> part: array<f32>;`;

/** Compile-time configuration of the token-parallel kernel. */
export interface TpAttentionConfig {
  readonly headDim: number;
  readonly group: number;
  readonly keys: KvTileFormat;
  readonly values: KvTileFormat;
  readonly subgroups: boolean;
  /** tokens per thread in the key phase (1 or 2) */
  readonly tpt: number;
  /** channels per thread in the value phase */
  readonly cpt: number;
  /** kvHeads × headDim */
  readonly channels: number;
  /** keys read as vec4<u32> (binding 5 views the key buffer); needs 16-byte aligned token rows */
  readonly kvec: boolean;
  /** value phase: every token of a thread unrolled, its loads issued before the math */
  readonly vunroll?: boolean;
  /** HIGGS pair codes cut out by `% 2^bits` instead of a mask (see `codes`) */
  readonly modIndex?: boolean;
  /**
   * Benchmark probes (wrong results on purpose): 1 = only load the key and value codes, 2 = + key
   * dot products, 3 = + softmax; values are only loaded (XOR-ed into a sink) in all three.
   */
  readonly probe?: number;
  /**
   * per-tile workgroup buffers (folded query, softmax weights) double-buffered by tile parity, so
   * no barrier is needed at the start of a tile; with subgroups and one key group per tile, each
   * subgroup also computes the key-group bias `Σ q·(min − scale·2^bits)` itself (`subgroupAdd`)
   * instead of a two-barrier workgroup reduction
   */
  readonly dbuf?: boolean;
  /** value phase with `vunroll`: tokens per unrolled batch (default: all of the thread's tokens) */
  readonly vbatch?: number;
  /**
   * softmax against the running max unless a score of the tile exceeds it by more than 8 (then
   * the tile is redone with the new max): one barrier per tile instead of two in the common case
   */
  readonly lazy?: boolean;
  /**
   * packed-f16 arithmetic for uniform keys (needs `shader-f16`, code bits in {@link TP_F16_BITS}):
   * code pairs become `vec2<f16>` with one shift and one mask, and each pair costs one f16 FMA per
   * query head against the folded query, normalized per tile by a power of two so that its largest
   * weight is below 1; the f16 partial scores are added into the f32 score every `kflush` pairs
   */
  readonly f16Keys?: boolean;
  /**
   * packed-f16 arithmetic for uniform values (needs `shader-f16`, `vunroll`, code bits in
   * {@link TP_F16_BITS} and whole code words per thread): each thread's weights `p·scale` are
   * normalized by a power of two from the largest value scale of its batch of tokens, accumulated
   * in f16 over that batch and added into the f32 accumulators once per batch
   */
  readonly f16Values?: boolean;
  /**
   * issue the tile's key-code loads (and, with `vunroll` in one batch, its value loads) at the start
   * of the tile, before the query fold and its barriers, instead of where they are used
   */
  readonly early?: boolean;
  /** code pairs per f16 partial score before it is added into the f32 score (default 16) */
  readonly kflush?: number;
  /**
   * f16 keys: codes centered (`code·2^-bits − 0.5`, one more f16 subtract per pair) so that partial
   * scores stay small (default true); values are always centered
   */
  readonly kcenter?: boolean;
}

/** Code widths the packed-f16 paths read (codes that do not straddle a 16-bit half). */
export const TP_F16_BITS: readonly number[] = [1, 2, 4, 8];

/** Why packed-f16 arithmetic cannot run for the keys / values of a configuration (null when it can). */
export function tpF16Unsupported(side: 'keys' | 'values', f: KvTileFormat, cpt: number): string | null {
  if (f.kind === 'higgs') return null;
  if (f.kind !== 'uniform') return `${f.kind} ${side}`;
  if (!TP_F16_BITS.includes(f.bits)) return `${f.bits}-bit ${side}`;
  if (side === 'values' && (cpt * f.bits) % 32 !== 0) return `${cpt} channels of ${f.bits} bits per thread`;
  return null;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * WGSL lines adding f16 partial scores (`vec2<f16>` per token `tp` < tpt and query head, named by
 * `partial`) into the f32 scores `sa{tp}_{u}` (vec4f per 4 heads when G % 4 = 0, else f32 per head),
 * times `scale` (or `scale(tp)`). Shared by the token-parallel and subgroup kernels.
 */
export function f16ScoreFlush(
  tpt: number,
  G: number,
  partial: (tp: number, h: number) => string,
  scale: string | ((tp: number) => string),
): string[] {
  const sc = typeof scale === 'string' ? () => scale : scale;
  const G4 = G % 4 === 0;
  const hs = (tp: number, h: number) => `(f32(${partial(tp, h)}.x) + f32(${partial(tp, h)}.y))`;
  const L: string[] = [];
  for (const tp of range(tpt))
    for (const u of range(G4 ? G / 4 : G))
      L.push(
        G4
          ? `    sa${tp}_${u} = fma(vec4f(${range(4)
              .map((k) => hs(tp, 4 * u + k))
              .join(', ')}), vec4f(${sc(tp)}), sa${tp}_${u});`
          : `    sa${tp}_${u} = fma(${hs(tp, u)}, ${sc(tp)}, sa${tp}_${u});`,
      );
  return L;
}

/**
 * WGSL lines adding f16 value sums `ah{id}_{h}` (`vec2<f16>`: channels lo and hi of pair `id`, query
 * head h) into the f32 accumulators `acc{channel}_{u}` (vec4f per 4 heads when G % 4 = 0, else f32
 * per head), times `vscb`. Shared by the token-parallel and subgroup kernels.
 */
export function f16AccFlush(
  pairs: readonly { readonly id: string; readonly lo: number; readonly hi: number }[],
  G: number,
  indent: string,
): string[] {
  const G4 = G % 4 === 0;
  const L: string[] = [];
  for (const { id, lo, hi } of pairs)
    for (const [ch, comp2] of [
      [lo, 'x'],
      [hi, 'y'],
    ] as const)
      for (const u of range(G4 ? G / 4 : G))
        L.push(
          G4
            ? `${indent}acc${ch}_${u} = fma(vec4f(${range(4)
                .map((k) => `f32(ah${id}_${4 * u + k}.${comp2})`)
                .join(', ')}), vec4f(vscb), acc${ch}_${u});`
            : `${indent}acc${ch}_${u} = fma(f32(ah${id}_${u}.${comp2}), vscb, acc${ch}_${u});`,
        );
  return L;
}

/**
 * WGSL lines of the HIGGS query rotation over workgroup `qraw[d·G + h]` (all G heads): the
 * unnormalized fast Walsh–Hadamard butterflies over d, one workgroup barrier per stage. Shared by the
 * token-parallel and subgroup kernels.
 */
export function queryFwhtWgsl(D: number, G: number, WG: number): string[] {
  return [
    `  for (var hh = 1u; hh < ${D}u; hh = hh * 2u) {`,
    `    for (var i = li; i < ${(D / 2) * G}u; i = i + ${WG}u) {`,
    `      let h = i % ${G}u; let pr = i / ${G}u;`,
    '      let k = (pr / hh) * 2u * hh + (pr % hh);',
    `      let a = qraw[k * ${G}u + h]; let bb = qraw[(k + hh) * ${G}u + h];`,
    `      qraw[k * ${G}u + h] = a + bb; qraw[(k + hh) * ${G}u + h] = a - bb;`,
    '    }',
    '    workgroupBarrier();',
    '  }',
  ];
}

/** WGSL: the largest magnitude of the query unit `qs[i]` (vec4f per 4 heads when G % 4 = 0, else f32). */
export function queryUnitAbsMax(G: number): string {
  return G % 4 === 0 ? 'max(max(abs(qs[i].x), abs(qs[i].y)), max(abs(qs[i].z), abs(qs[i].w)))' : 'abs(qs[i])';
}

/**
 * WGSL lines storing the rotated query `qs` (units of 4 heads when G % 4 = 0) from `qraw`, times
 * 1/√D; with `qmax`, also the running maximum `qm` of its magnitudes (declared by the caller).
 */
export function queryUnitsWgsl(D: number, G: number, WG: number, qmax: boolean): string[] {
  const G4 = G % 4 === 0;
  const norm = (1 / Math.sqrt(D)).toPrecision(9);
  return [
    `  for (var i = li; i < ${D * (G4 ? G / 4 : G)}u; i = i + ${WG}u) {`,
    G4
      ? `    qs[i] = vec4f(qraw[4u * i], qraw[4u * i + 1u], qraw[4u * i + 2u], qraw[4u * i + 3u]) * ${norm};`
      : `    qs[i] = qraw[i] * ${norm};`,
    ...(qmax ? [`    qm = max(qm, ${queryUnitAbsMax(G)});`] : []),
    '  }',
  ];
}

/**
 * WGSL lines packing the rotated query into f16 pairs `qs16` (channels 2p, 2p + 1; one u32 per
 * head, vec4u per 4 heads), times `qinv`.
 */
export function queryPairsWgsl(D: number, G: number, WG: number): string[] {
  const G4 = G % 4 === 0;
  const NU = G4 ? G / 4 : G;
  return [
    `  for (var i = li; i < ${(D / 2) * NU}u; i = i + ${WG}u) {`,
    `    let pr = i / ${NU}u; let u = i % ${NU}u;`,
    `    let qa = qs[2u * pr * ${NU}u + u]; let qb = qs[(2u * pr + 1u) * ${NU}u + u];`,
    G4
      ? `    qs16[i] = vec4u(${range(4)
          .map((k) => `pack2x16float(vec2f(qa[${k}], qb[${k}]) * qinv)`)
          .join(', ')});`
      : '    qs16[i] = pack2x16float(vec2f(qa, qb) * qinv);',
    '  }',
  ];
}

/** Code bits of a format read by this kernel (uniform: bits; HIGGS: bits of a pair code). */
export function tpCodeBits(f: KvTileFormat): number {
  if (f.kind === 'uniform') return f.bits;
  if (f.kind === 'higgs') return f.codeBits;
  return 0;
}

/** Why the token-parallel kernel cannot read this K/V pair (or null when it can). */
export function tpUnsupported(
  keys: KvTileFormat,
  values: KvTileFormat,
  headDim: number,
  tpt: number,
  cpt: number,
): string | null {
  const TT = TP_THREADS * tpt;
  if (headDim % 64 !== 0 || headDim > 256) return `headDim ${headDim}`;
  if (keys.kind === 'uniform') {
    if (keys.axis !== 'channel') return 'token-axis uniform keys';
    const gs = keys.groupSize;
    if (keys.blockTokens % gs !== 0) return `key groups of ${gs} do not divide blocks of ${keys.blockTokens}`;
    if (gs % TT !== 0 && TT % gs !== 0) return `key groups of ${gs} vs tiles of ${TT}`;
    if (gs % tpt !== 0) return `key groups of ${gs} vs ${tpt} tokens per thread`;
    if (Math.max(1, TT / gs) * headDim > 2048) return `key groups of ${gs} are too short`;
  } else if (keys.kind === 'higgs') {
    if (keys.block !== headDim) return `key Hadamard block ${keys.block} ≠ headDim ${headDim}`;
    if (keys.scaleWords % 1 !== 0) return 'key scales not word-aligned';
  } else return `${keys.kind} keys`;
  if (values.kind === 'uniform') {
    if (values.axis !== 'token') return 'channel-axis uniform values';
    if (values.groupSize % cpt !== 0 && cpt % values.groupSize !== 0)
      return `value groups of ${values.groupSize}`;
  } else if (values.kind === 'higgs') {
    if (values.block !== headDim) return `value Hadamard block ${values.block} ≠ headDim ${headDim}`;
    if (values.scaleWords % 1 !== 0) return 'value scales not word-aligned';
  } else return `${values.kind} values`;
  return null;
}

/** Cache-key fragment of a format. */
export function tpFormatKey(f: KvTileFormat): string {
  if (f.kind === 'uniform')
    return `u${f.bits}${f.axis[0]}${f.groupSize}b${f.blockTokens}w${f.blockWords}g${f.nGroups}`;
  if (f.kind === 'higgs') return `h${f.dim}:${f.bits}:${f.block}b${f.blockTokens}w${f.blockWords}`;
  return f.kind;
}

/** Cache key of a configuration. */
export function tpAttentionKey(c: TpAttentionConfig): string {
  return `dattn-tp:${c.headDim}:${c.group}:${tpFormatKey(c.keys)}:${tpFormatKey(c.values)}:${c.subgroups ? 'sg' : 'wg'}:t${c.tpt}:c${c.cpt}:${c.channels}:${c.kvec ? 'v' : 's'}:${c.vunroll ? 'vu' : 'vl'}:p${c.probe ?? 0}:${c.dbuf ? 'db' : 'sb'}:b${c.vbatch ?? 0}:${c.lazy ? 'lz' : 'ex'}:${c.f16Keys ? 'hk' : 'fk'}${c.f16Values ? 'hv' : 'fv'}${c.kflush ?? 16}${c.kcenter === false ? 'n' : 'c'}${c.early ? 'e' : ''}${c.modIndex ? 'm' : ''}`;
}

/** f32 offsets in the aux buffer: K signs, V signs, K pair table, V pair table. */
export function tpAuxLayout(c: {
  headDim: number;
  keys: KvTileFormat;
  values: KvTileFormat;
}): { sk: number; sv: number; tk: number; tv: number; total: number } {
  const D = c.headDim;
  const nk = c.keys.kind === 'higgs' ? 2 << c.keys.codeBits : 0;
  const nv = c.values.kind === 'higgs' ? 2 << c.values.codeBits : 0;
  return { sk: 0, sv: D, tk: 2 * D, tv: 2 * D + nk, total: Math.max(4, 2 * D + nk + nv) };
}

/** The aux buffer's contents (signs and pair tables; zeros where a side is not HIGGS). */
export function tpAuxData(c: { headDim: number; keys: KvTileFormat; values: KvTileFormat }): Float32Array {
  const L = tpAuxLayout(c);
  const a = new Float32Array(L.total);
  if (c.keys.kind === 'higgs') {
    a.set(c.keys.signs, L.sk);
    a.set(c.keys.table, L.tk);
  }
  if (c.values.kind === 'higgs') {
    a.set(c.values.signs, L.sv);
    a.set(c.values.table, L.tv);
  }
  return a;
}

/**
 * WGSL lines extracting `n` codes of `bits` bits from normalized words `${w}0…` (code j at bit
 * j·bits); `emit(j, expr)` gets the code as a u32 expression (`raw`) or, for `top`, as the f32
 * `1 + code·2^-bits`. Also used by the subgroup-private kernel. `modulo` (raw codes of fewer than 32
 * bits): each code is cut out by `% 2^bits` instead of `& (2^bits − 1)`, the same value in a form whose
 * range Tint's integer range analysis knows (an index it can prove in bounds needs no clamp).
 */
export function codes(
  w: string,
  n: number,
  bits: number,
  mode: 'top' | 'raw',
  emit: (j: number, e: string) => void,
  L: string[],
  pre: string,
  modulo = false,
): void {
  const mask = bits === 32 ? 0xffffffff : (1 << bits) - 1;
  const cut = modulo && mode === 'raw' && bits < 32 ? `% ${mask + 1}u` : `& ${mask}u`;
  const topMask = (mask << (23 - bits)) >>> 0;
  for (let j = 0; j < n; j++) {
    const pos = j * bits;
    const k = pos >> 5;
    const s = pos & 31;
    if (s + bits <= 32) {
      if (mode === 'raw') {
        emit(j, s === 0 ? `(${w}${k} ${cut})` : `((${w}${k} >> ${s}u) ${cut})`);
      } else {
        const sh = 23 - bits - s; // bring the code to the top of the mantissa
        const moved = sh === 0 ? `${w}${k}` : sh > 0 ? `(${w}${k} << ${sh}u)` : `(${w}${k} >> ${-sh}u)`;
        emit(j, `bitcast<f32>((${moved} & 0x${topMask.toString(16)}u) | 0x3f800000u)`);
      }
    } else {
      L.push(`    let ${pre}x${j} = ((${w}${k} >> ${s}u) | (${w}${k + 1} << ${32 - s}u)) ${cut};`);
      emit(j, mode === 'raw' ? `${pre}x${j}` : `bitcast<f32>((${pre}x${j} << ${23 - bits}u) | 0x3f800000u)`);
    }
  }
}

/**
 * `vec2<f16>` of the code pair (j, j + n/2) of word `w`, n = 32/bits codes per word (the low half
 * holds codes 0…n/2−1, the high half the rest): one shift and one mask/or bring both codes to the
 * top of their half's mantissa, so each half reads `1 + code·2^-bits`.
 */
export function f16Pair(w: string, j: number, bits: number, center: boolean): string {
  const { shift: sh, mask } = f16PairShift(j, bits);
  const mask2 = mask.toString(16);
  const moved = sh === 0 ? w : sh > 0 ? `(${w} << ${sh}u)` : `(${w} >> ${-sh}u)`;
  const x = `bitcast<vec2<f16>>((${moved} & 0x${mask2}u) | 0x3c003c00u)`;
  return center ? `(${x} - vec2<f16>(${f16Center(bits)}))` : x;
}

/** `1 + (2^bits − 1)/2^(bits+1)`: the middle of the codes `1 + code·2^-bits` (exact in f16). */
export function f16Center(bits: number): number {
  return 1 + ((1 << bits) - 1) / 2 ** (bits + 1);
}

/**
 * Shift (left when positive) and mask of {@link f16Pair} for pair `j` of `bits`-bit codes: the
 * masked word, or-ed with two f16 ones (0x3c003c00), holds the pair as two halves `1 + code·2^-bits`.
 */
export function f16PairShift(j: number, bits: number): { shift: number; mask: number } {
  const top = 10 - bits;
  const m = ((1 << bits) - 1) << top;
  return { shift: top - j * bits, mask: (m | (m << 16)) >>> 0 };
}

/** Channels (within a run of whole words) of code pair `p` of {@link f16Pair}: [low, high]. */
export function f16PairChannels(p: number, bits: number): [number, number] {
  const half = 16 / bits;
  const lo = Math.floor(p / half) * 2 * half + (p % half);
  return [lo, lo + half];
}

/**
 * Bindings: 0 = params {N, Hkv, tiles, nChunks, scale, nBlocksK, nBlocksV}, 1 = q f32 [B, Hq, D],
 * 2 = keys (u32), 3 = values (u32), 4 = partials f32 [B, Hq, nChunks, D + 2], 5 = keys as vec4<u32>
 * (same buffer), 6 = aux f32 (signs, pair tables). Dispatch (nChunks, Hkv, B).
 */
export function tpAttentionWgsl(c: TpAttentionConfig): string {
  const D = c.headDim;
  const G = c.group;
  const C = c.channels;
  const TPT = c.tpt;
  const WG = TP_THREADS;
  const TT = WG * TPT;
  const CPT = c.cpt;
  const NCG = D / CPT;
  const NTG = WG / NCG;
  const TPG = TT / NTG;
  const kf = c.keys;
  const vf = c.values;
  const G4 = G % 4 === 0;
  const NU = G4 ? G / 4 : G;
  const U = range(NU);
  const unit = G4 ? 'vec4f' : 'f32';
  const zero = G4 ? 'vec4f(0.0)' : '0.0';
  const H = range(G);
  /** component h of a unit variable */
  const comp = (v: string, h: number) => (G4 ? `${v}_${h >> 2}[${h & 3}]` : `${v}_${h}`);
  const aux = tpAuxLayout(c);
  const uniK = kf.kind === 'uniform' ? kf : null;
  const higK = kf.kind === 'higgs' ? kf : null;
  const uniV = vf.kind === 'uniform' ? vf : null;
  const higV = vf.kind === 'higgs' ? vf : null;
  if (!(uniK || higK) || !(uniV || higV)) throw new Error('tpAttentionWgsl: unsupported formats');
  const kfb = (uniK ?? higK)!;
  const vfb = (uniV ?? higV)!;
  const kBits = tpCodeBits(kf);
  const vBits = tpCodeBits(vf);
  const kh = !!c.f16Keys;
  const vh = !!c.f16Values;
  if (kh) {
    const why = tpF16Unsupported('keys', kf, CPT);
    if (why) throw new Error(`tpAttentionWgsl: f16 keys: ${why}`);
  }
  if (vh) {
    const why = tpF16Unsupported('values', vf, CPT);
    if (why) throw new Error(`tpAttentionWgsl: f16 values: ${why}`);
    if (!c.vunroll) throw new Error('tpAttentionWgsl: f16 values need vunroll');
  }
  if ((kh || vh) && (c.dbuf || c.lazy)) throw new Error('tpAttentionWgsl: f16 with dbuf or lazy');
  const KF = c.kflush ?? 16;
  const KC = c.kcenter ?? true;
  const NP = D / 2;
  if (kh && (!Number.isInteger(KF) || KF < 1 || NP % KF !== 0))
    throw new Error(`tpAttentionWgsl: kflush ${KF} does not divide ${NP} code pairs`);
  // key slots (groups per tile) for uniform keys
  const NKG = uniK ? Math.max(1, TT / uniK.groupSize) : 1;
  const slotTokens = uniK ? Math.min(uniK.groupSize, TT) : TT;
  const qsLen = NKG * D * G;
  const dbuf = !!c.dbuf;
  const dbufQ = dbuf && !!uniK;
  const sgfold = dbuf && !!uniK && NKG === 1 && c.subgroups;
  const QO = dbufQ ? 'qo + ' : '';
  const qsUnits = qsLen / (G4 ? 4 : 1);
  const redLen = Math.max(NTG * D, uniK ? NKG * D * G : 0, WG * G, 4);

  // ---- key phase -------------------------------------------------------------------------------
  const K: string[] = [];
  /**
   * f16 scores: pairs `kx{tp}_{p}` (defined before, or by `pairLines`) × the f16 query pairs of
   * `qs16[qIndex(p, u)]`, summed in f16 over `kflush` pairs, then into the f32 scores `sa` × ksc
   */
  const f16Scores = (
    qIndex: (p: number, u: number) => string,
    pairLines: (tp: number, p: number) => string[],
  ) => {
    const qh = (p: number, h: number) =>
      G4 ? `bitcast<vec2<f16>>(kq${p}_${h >> 2}[${h & 3}])` : `bitcast<vec2<f16>>(kq${p}_${h})`;
    for (let p0 = 0; p0 < NP; p0 += KF) {
      const g = p0 / KF;
      for (let p = p0; p < p0 + KF; p++) {
        for (const u of U) K.push(`    let kq${p}_${u} = qs16[${qIndex(p, u)}];`);
        for (const tp of range(TPT)) {
          K.push(...pairLines(tp, p));
          for (const h of H)
            K.push(
              p === p0
                ? `    var ha${tp}_${h}_${g} = kx${tp}_${p} * ${qh(p, h)};`
                : `    ha${tp}_${h}_${g} = fma(kx${tp}_${p}, ${qh(p, h)}, ha${tp}_${h}_${g});`,
            );
        }
      }
      K.push(...f16ScoreFlush(TPT, G, (tp, h) => `ha${tp}_${h}_${g}`, 'ksc'));
    }
  };
  K.push(`    let tb = tstart + li * ${TPT}u;`);
  const kWords = higK ? ((D / 2) * kBits) / 32 : (D * kBits) / 32;
  for (const tp of range(TPT)) {
    K.push(`    let kt${tp} = min(tb + ${tp}u, p.N - 1u);`);
    K.push(
      `    let kblk${tp} = kt${tp} / ${kfb.blockTokens}u; let kti${tp} = kt${tp} % ${kfb.blockTokens}u;`,
    );
    K.push(`    let kbase${tp} = (b * p.nBlocksK + kblk${tp}) * ${kfb.blockWords}u;`);
    const codeStart = uniK ? `${uniK.nGroups}u` : `${higK!.scaleWords}u`;
    const rowWords = higK ? (C / 2) * (kBits / 32) : C * (kBits / 32);
    const headWords = kWords;
    K.push(`    let kcw${tp} = kbase${tp} + ${codeStart} + kti${tp} * ${rowWords}u + hk * ${headWords}u;`);
    if (c.kvec) {
      for (const v of range(kWords / 4)) K.push(`    let kv${tp}_${v} = k4[kcw${tp} / 4u + ${v}u];`);
      for (const wi of range(kWords)) K.push(`    let kw${tp}_${wi} = kv${tp}_${wi >> 2}[${wi & 3}];`);
    } else {
      for (const wi of range(kWords)) K.push(`    let kw${tp}_${wi} = kbuf[kcw${tp} + ${wi}u];`);
    }
    if (higK) {
      K.push(`    let ksc${tp} = half_k(2u * kbase${tp} + kti${tp} * ${C / D}u + hk);`);
    }
  }
  // the key loads end here: with `early` they move to the start of the tile
  const kLoads = K.length;
  if (c.probe === 1) {
    for (const tp of range(TPT)) for (const wi of range(kWords)) K.push(`    sink = sink ^ kw${tp}_${wi};`);
  } else if (uniK && kh) {
    K.push(`    let slot = ${NKG > 1 ? `(li * ${TPT}u) / ${slotTokens}u` : '0u'};`);
    for (const tp of range(TPT))
      for (const u of U) K.push(`    var sa${tp}_${u} = kbias[slot * ${NU}u + ${u}u];`);
    K.push('    let ksc = kqsc[slot];');
    const half = 16 / kBits;
    for (const tp of range(TPT))
      for (const p of range(NP))
        K.push(`    let kx${tp}_${p} = ${f16Pair(`kw${tp}_${Math.floor(p / half)}`, p % half, kBits, KC)};`);
    f16Scores(
      (p, u) => `(slot * ${NP}u + ${p}u) * ${NU}u + ${u}u`,
      () => [],
    );
  } else if (uniK) {
    K.push(`    let slot = ${NKG > 1 ? `(li * ${TPT}u) / ${slotTokens}u` : '0u'};`);
    if (sgfold) {
      const gs = uniK.groupSize;
      for (const u of U) K.push(`    var kbs${u} = ${zero};`);
      K.push(`    for (var d = sgi; d < ${D}u; d = d + sgs) {`);
      K.push('      let bt = min(tstart, p.N - 1u);');
      K.push(`      let bbase = (b * p.nBlocksK + bt / ${uniK.blockTokens}u) * ${uniK.blockWords}u;`);
      K.push(`      let bg = ((bt % ${uniK.blockTokens}u) / ${gs}u) * ${C}u + hk * ${D}u + d;`);
      K.push(
        `      let bm = half_k(2u * bbase + ${uniK.nGroups}u + bg) - half_k(2u * bbase + bg) * ${(2 ** uniK.bits).toFixed(1)};`,
      );
      for (const u of U)
        K.push(
          G4
            ? `      kbs${u} = fma(vec4f(${range(4)
                .map((k) => `qraw[d * ${G}u + ${4 * u + k}u]`)
                .join(', ')}), vec4f(bm), kbs${u});`
            : `      kbs${u} = fma(qraw[d * ${G}u + ${u}u], bm, kbs${u});`,
        );
      K.push('    }');
      for (const u of U) K.push(`    let kbsum${u} = subgroupAdd(kbs${u});`);
      for (const tp of range(TPT)) for (const u of U) K.push(`    var sa${tp}_${u} = kbsum${u};`);
    } else {
      for (const tp of range(TPT))
        for (const u of U) K.push(`    var sa${tp}_${u} = kbias[slot * ${NU}u + ${u}u];`);
    }
    // codes of every token, then FMAs channel by channel (the weight load is shared)
    const xs: string[][] = range(TPT).map(() => []);
    for (const tp of range(TPT)) codes(`kw${tp}_`, D, kBits, 'top', (j, e) => xs[tp]!.push(e), K, `k${tp}_`);
    for (const j of range(D)) {
      for (const u of U) K.push(`    let qw${j}_${u} = qs[${QO}(slot * ${D}u + ${j}u) * ${NU}u + ${u}u];`);
      for (const tp of range(TPT))
        for (const u of U)
          K.push(`    sa${tp}_${u} = fma(${unit}(${xs[tp]![j]}), qw${j}_${u}, sa${tp}_${u});`);
    }
  } else if (kh) {
    // HIGGS, f16: grid points (f16 table) × the rotated query (f16 pairs, scaled by kqsc[0])
    for (const tp of range(TPT)) for (const u of U) K.push(`    var sa${tp}_${u} = ${zero};`);
    K.push('    let ksc = kqsc[0];');
    const idx: string[][] = range(TPT).map(() => []);
    for (const tp of range(TPT))
      codes(`kw${tp}_`, D / 2, kBits, 'raw', (j, e) => idx[tp]!.push(e), K, `k${tp}_`, c.modIndex);
    f16Scores(
      (p, u) => `${p * NU + u}u`,
      (tp, p) => [`    let kx${tp}_${p} = bitcast<vec2<f16>>(tabK16[${idx[tp]![p]}]);`],
    );
    for (const tp of range(TPT)) for (const u of U) K.push(`    sa${tp}_${u} = sa${tp}_${u} * ksc${tp};`);
  } else {
    for (const tp of range(TPT)) for (const u of U) K.push(`    var sa${tp}_${u} = ${zero};`);
    const idx: string[][] = range(TPT).map(() => []);
    for (const tp of range(TPT))
      codes(`kw${tp}_`, D / 2, kBits, 'raw', (j, e) => idx[tp]!.push(e), K, `k${tp}_`, c.modIndex);
    for (const j of range(D / 2)) {
      for (const u of U) {
        K.push(`    let qa${j}_${u} = qs[${2 * j * NU + u}u];`);
        K.push(`    let qb${j}_${u} = qs[${(2 * j + 1) * NU + u}u];`);
      }
      for (const tp of range(TPT)) {
        K.push(`    let kp${tp}_${j} = tabK[${idx[tp]![j]}];`);
        for (const u of U)
          K.push(
            `    sa${tp}_${u} = fma(qa${j}_${u}, ${unit}(kp${tp}_${j}.x), fma(qb${j}_${u}, ${unit}(kp${tp}_${j}.y), sa${tp}_${u}));`,
          );
      }
    }
    for (const tp of range(TPT)) for (const u of U) K.push(`    sa${tp}_${u} = sa${tp}_${u} * ksc${tp};`);
  }
  // per-head scores, masked
  for (const tp of range(c.probe === 1 ? 0 : TPT))
    for (const h of H)
      K.push(`    let s${tp}_${h} = select(${comp(`sa${tp}`, h)}, NEG, tb + ${tp}u >= p.N);`);

  // ---- softmax ---------------------------------------------------------------------------------
  const S: string[] = [];
  const NVG = uniV ? Math.max(1, CPT / uniV.groupSize) : 1;
  const alphaUnit = (u: number) =>
    G4
      ? `vec4f(${range(4)
          .map((k) => `al${4 * u + k}`)
          .join(', ')})`
      : `al${u}`;
  const pwo = dbuf ? ` + par * ${TT}u` : '';
  /** softmax weights of the thread's tokens into pw (vec4 units when G % 4 == 0) */
  const pwWrite = (L: string[], ind: string) => {
    for (const tp of range(TPT)) {
      if (G4)
        for (const u of U)
          L.push(
            `${ind}pw[(li * ${TPT}u + ${tp}u${pwo}) * ${NU}u + ${u}u] = vec4f(${range(4)
              .map((k) => `e${tp}_${4 * u + k}`)
              .join(', ')});`,
          );
      else
        for (const h of H) L.push(`${ind}pw[(li * ${TPT}u + ${tp}u${pwo}) * ${G}u + ${h}u] = e${tp}_${h};`);
    }
  };
  if (c.probe === 2)
    for (const tp of range(TPT)) for (const h of H) S.push(`    sink = sink ^ bitcast<u32>(s${tp}_${h});`);
  if (c.probe === 1) {
    // nothing
  } else if (c.lazy && !c.probe) {
    // exps against the running max m; the tile max only matters when it passes m + 8
    for (const h of H) {
      const mx = range(TPT).reduce((e, tp) => (e ? `max(${e}, s${tp}_${h})` : `s${tp}_${h}`), '');
      S.push(`    let lm${h} = ${c.subgroups ? `subgroupMax(${mx})` : mx};`);
    }
    S.push(`    if (${H.map((h) => `lm${h} > m${h} + 8.0`).join(' || ')}) {`);
    S.push('      fl[par] = 1u;');
    for (const h of H) S.push(`      atomicMax(&wm[par * ${G}u + ${h}u], ord(lm${h}));`);
    S.push('    }');
    for (const h of H)
      for (const tp of range(TPT))
        S.push(`    var e${tp}_${h} = select(exp(s${tp}_${h} - m${h}), 0.0, tb + ${tp}u >= p.N);`);
    pwWrite(S, '    ');
    S.push('    let slow = workgroupUniformLoad(&fl[par]) != 0u;');
    S.push('    if (li == 0u) { fl[1u - par] = 0u; }');
    S.push(`    if (li < ${G}u) { atomicStore(&wm[(1u - par) * ${G}u + li], 0u); }`);
    S.push('    if (slow) {');
    for (const h of H) {
      S.push(`      let mn${h} = max(m${h}, unord(atomicLoad(&wm[par * ${G}u + ${h}u])));`);
      S.push(`      let al${h} = exp(m${h} - mn${h}); m${h} = mn${h}; l${h} = l${h} * al${h};`);
      for (const tp of range(TPT))
        S.push(`      e${tp}_${h} = select(exp(s${tp}_${h} - mn${h}), 0.0, tb + ${tp}u >= p.N);`);
    }
    for (const u of U) {
      S.push(`      let au${u} = ${alphaUnit(u)};`);
      for (const j of range(CPT)) S.push(`      acc${j}_${u} = acc${j}_${u} * au${u};`);
      if (uniV) for (const g of range(NVG)) S.push(`      vb${g}_${u} = vb${g}_${u} * au${u};`);
    }
    pwWrite(S, '      ');
    S.push('      workgroupBarrier();');
    S.push('    }');
    for (const h of H)
      S.push(
        `    l${h} = l${h} + ${range(TPT)
          .map((tp) => `e${tp}_${h}`)
          .join(' + ')};`,
      );
  } else if (!c.probe || c.probe === 3) {
    for (const h of H) {
      const mx = range(TPT).reduce((e, tp) => (e ? `max(${e}, s${tp}_${h})` : `s${tp}_${h}`), '');
      S.push(`    let lm${h} = ${c.subgroups ? `subgroupMax(${mx})` : mx};`);
    }
    S.push(c.subgroups ? '    if (subgroupElect()) {' : '    {');
    for (const h of H) S.push(`      atomicMax(&wm[par * ${G}u + ${h}u], ord(lm${h}));`);
    S.push('    }');
    S.push('    workgroupBarrier();');
    S.push(`    if (li < ${G}u) { atomicStore(&wm[(1u - par) * ${G}u + li], 0u); }`);
    S.push('    var moved = false;');
    for (const h of H) {
      S.push(`    let mn${h} = max(m${h}, unord(atomicLoad(&wm[par * ${G}u + ${h}u])));`);
      S.push(`    let al${h} = exp(m${h} - mn${h}); moved = moved || (mn${h} != m${h}); m${h} = mn${h};`);
      for (const tp of range(TPT))
        S.push(`    let e${tp}_${h} = select(exp(s${tp}_${h} - mn${h}), 0.0, tb + ${tp}u >= p.N);`);
      S.push(
        `    l${h} = l${h} * al${h} + ${range(TPT)
          .map((tp) => `e${tp}_${h}`)
          .join(' + ')};`,
      );
    }
    pwWrite(S, '    ');
    S.push('    workgroupBarrier();');
  }

  // ---- value phase -----------------------------------------------------------------------------
  const V: string[] = [];
  /** value loads issued at the start of the tile (`early`) */
  const vEarly: string[] = [];
  if (!c.probe && !c.lazy) {
    V.push('    if (moved) {');
    for (const u of U) {
      V.push(`      let au${u} = ${alphaUnit(u)};`);
      for (const j of range(CPT)) V.push(`      acc${j}_${u} = acc${j}_${u} * au${u};`);
      if (uniV) for (const g of range(NVG)) V.push(`      vb${g}_${u} = vb${g}_${u} * au${u};`);
    }
    V.push('    }');
  }
  const vThreadBits = higV ? (CPT / 2) * vBits : CPT * vBits;
  const aligned = vThreadBits % 32 === 0;
  const NWV = Math.ceil(vThreadBits / 32);
  const NLV = NWV + (aligned ? 0 : 1);
  const codeStartV = uniV ? `${uniV.nGroups}u` : `${higV!.scaleWords}u`;
  /** largest value scales of the f16 value path's batch */
  const vsig: string[] = [];
  /** one value token: loads (`ld`) and math (`mt`); names end in `x` (the token's suffix) */
  const vtok = (x: string, kExpr: string, ld: string[], mt: string[]) => {
    ld.push(`      let tt${x} = tg + ${kExpr} * ${NTG}u;`);
    ld.push(`      let vt${x} = min(tstart + tt${x}, p.N - 1u);`);
    ld.push(`      let vblk${x} = vt${x} / ${vfb.blockTokens}u; let vti${x} = vt${x} % ${vfb.blockTokens}u;`);
    ld.push(`      let vbase${x} = (b * p.nBlocksV + vblk${x}) * ${vfb.blockWords}u;`);
    const vBitExpr = higV
      ? `(vti${x} * ${C / 2}u + vch / 2u) * ${vBits}u`
      : `(vti${x} * ${C}u + vch) * ${vBits}u`;
    ld.push(`      let vbit${x} = ${vBitExpr};`);
    ld.push(`      let vcw${x} = vbase${x} + ${codeStartV} + (vbit${x} >> 5u);`);
    for (const i of range(NLV)) ld.push(`      let vr${x}_${i} = vbuf[vcw${x} + ${i}u];`);
    if (c.probe) {
      for (const i of range(NLV)) mt.push(`      sink = sink ^ vr${x}_${i};`);
      return;
    }
    for (const u of U) mt.push(`      let pu${x}_${u} = pwu(tt${x}${dbuf ? ` + par * ${TT}u` : ''}, ${u}u);`);
    if (aligned) {
      for (const i of range(NWV)) mt.push(`      let vw${x}_${i} = vr${x}_${i};`);
    } else {
      mt.push(`      let vo${x} = vbit${x} & 31u;`);
      for (const i of range(NWV))
        mt.push(
          `      let vw${x}_${i} = (vr${x}_${i} >> vo${x}) | ((vr${x}_${i + 1} << 1u) << (31u - vo${x}));`,
        );
    }
    if (uniV && vh) {
      // f16: weights p·scale normalized by the batch's power of two (vinv), code pairs as vec2<f16>
      const gs = uniV.groupSize;
      const scale2b = 2 ** uniV.bits;
      const half = 16 / uniV.bits;
      for (const g of range(NVG)) {
        ld.push(`      let vg${x}_${g} = vti${x} * ${C / gs}u + (vch + ${g * gs}u) / ${gs}u;`);
        ld.push(
          `      let vs${x}_${g} = half_v(2u * vbase${x} + vg${x}_${g}) * ${scale2b.toFixed(1)}; let vm${x}_${g} = half_v(2u * vbase${x} + ${uniV.nGroups}u + vg${x}_${g}) + ${f16Center(uniV.bits) - 1} * vs${x}_${g};`,
        );
        vsig.push(`abs(vs${x}_${g})`);
        for (const u of U) {
          mt.push(
            G4
              ? `      let wh${x}_${g}_${u} = vec4<f16>(pu${x}_${u} * (vs${x}_${g} * vinv));`
              : `      let wh${x}_${g}_${u} = f16(pu${x}_${u} * (vs${x}_${g} * vinv));`,
          );
          mt.push(`      vb${g}_${u} = fma(pu${x}_${u}, ${unit}(vm${x}_${g}), vb${g}_${u});`);
        }
      }
      const whh = (g: number, h: number) => (G4 ? `wh${x}_${g}_${h >> 2}[${h & 3}]` : `wh${x}_${g}_${h}`);
      for (const i of range(NWV))
        for (const j of range(half)) {
          const [ja, jb] = f16PairChannels(i * half + j, uniV.bits);
          const grp = (ch: number) => Math.floor(ch / Math.min(gs, CPT));
          mt.push(`      let vx${x}_${i}_${j} = ${f16Pair(`vw${x}_${i}`, j, uniV.bits, true)};`);
          for (const h of H) {
            const w2 =
              grp(ja) === grp(jb)
                ? `vec2<f16>(${whh(grp(ja), h)})`
                : `vec2<f16>(${whh(grp(ja), h)}, ${whh(grp(jb), h)})`;
            mt.push(`      ah${i}_${j}_${h} = fma(vx${x}_${i}_${j}, ${w2}, ah${i}_${j}_${h});`);
          }
        }
    } else if (uniV) {
      const gs = uniV.groupSize;
      const scale2b = 2 ** uniV.bits;
      for (const g of range(NVG)) {
        ld.push(`      let vg${x}_${g} = vti${x} * ${C / gs}u + (vch + ${g * gs}u) / ${gs}u;`);
        ld.push(
          `      let vs${x}_${g} = half_v(2u * vbase${x} + vg${x}_${g}) * ${scale2b.toFixed(1)}; let vm${x}_${g} = half_v(2u * vbase${x} + ${uniV.nGroups}u + vg${x}_${g}) - vs${x}_${g};`,
        );
        for (const u of U) {
          mt.push(`      let w${x}_${g}_${u} = pu${x}_${u} * vs${x}_${g};`);
          mt.push(`      vb${g}_${u} = fma(pu${x}_${u}, ${unit}(vm${x}_${g}), vb${g}_${u});`);
        }
      }
      const xs: string[] = [];
      const L: string[] = [];
      codes(`vw${x}_`, CPT, uniV.bits, 'top', (_j, e) => xs.push(e), L, `v${x}`);
      mt.push(...L.map((l) => `  ${l}`));
      for (const j of range(CPT)) {
        const g = Math.floor(j / Math.min(gs, CPT));
        mt.push(`      let vx${x}_${j} = ${xs[j]};`);
        for (const u of U)
          mt.push(`      acc${j}_${u} = fma(w${x}_${g}_${u}, ${unit}(vx${x}_${j}), acc${j}_${u});`);
      }
    } else if (vh) {
      // HIGGS, f16: grid points (f16 table) × p·scale (normalized by the batch's power of two)
      ld.push(`      let vsc${x} = half_v(2u * vbase${x} + vti${x} * ${C / D}u + hk);`);
      vsig.push(`abs(vsc${x})`);
      for (const u of U)
        mt.push(
          G4
            ? `      let wh${x}_${u} = vec4<f16>(pu${x}_${u} * (vsc${x} * vinv));`
            : `      let wh${x}_${u} = f16(pu${x}_${u} * (vsc${x} * vinv));`,
        );
      const idx: string[] = [];
      const L: string[] = [];
      codes(`vw${x}_`, CPT / 2, vBits, 'raw', (_j, e) => idx.push(e), L, `v${x}`, c.modIndex);
      mt.push(...L.map((l) => `  ${l}`));
      for (const j of range(CPT / 2)) {
        mt.push(`      let vp${x}_${j} = bitcast<vec2<f16>>(tabV16[${idx[j]}]);`);
        for (const h of H) {
          const w = G4 ? `wh${x}_${h >> 2}[${h & 3}]` : `wh${x}_${h}`;
          mt.push(`      ah0_${j}_${h} = fma(vp${x}_${j}, vec2<f16>(${w}), ah0_${j}_${h});`);
        }
      }
    } else {
      ld.push(`      let vsc${x} = half_v(2u * vbase${x} + vti${x} * ${C / D}u + hk);`);
      for (const u of U) mt.push(`      let w${x}_${u} = pu${x}_${u} * vsc${x};`);
      const idx: string[] = [];
      const L: string[] = [];
      codes(`vw${x}_`, CPT / 2, vBits, 'raw', (_j, e) => idx.push(e), L, `v${x}`, c.modIndex);
      mt.push(...L.map((l) => `  ${l}`));
      for (const j of range(CPT / 2)) {
        mt.push(`      let vp${x}_${j} = tabV[${idx[j]}];`);
        for (const u of U) {
          mt.push(`      acc${2 * j}_${u} = fma(w${x}_${u}, ${unit}(vp${x}_${j}.x), acc${2 * j}_${u});`);
          mt.push(
            `      acc${2 * j + 1}_${u} = fma(w${x}_${u}, ${unit}(vp${x}_${j}.y), acc${2 * j + 1}_${u});`,
          );
        }
      }
    }
  };
  if (c.vunroll) {
    // every token of the thread: all loads first, then the math
    const ld: string[] = [];
    const mt: string[] = [];
    const nb = Math.min(TPG, c.vbatch ?? TPG);
    if (TPG % nb !== 0) throw new Error(`tpAttentionWgsl: vbatch ${nb} does not divide ${TPG}`);
    for (const k of range(nb)) vtok(`k${k}`, `(kb * ${nb}u + ${k}u)`, ld, mt);
    const pre: string[] = [];
    const post: string[] = [];
    if (vh && !c.probe) {
      // the batch's weights are scaled by a power of two below its largest value scale; the f16
      // sums are added into the f32 accumulators (times that power) once per batch. Pairs `ah{i}_{j}`
      // hold channels (lo, hi): uniform codes (j, j + n/2) of word i, HIGGS pair codes (2j, 2j + 1).
      const pairs: { id: string; lo: number; hi: number }[] = [];
      if (uniV) {
        const half = 16 / uniV.bits;
        for (const i of range(NWV))
          for (const j of range(half)) {
            const [lo, hi] = f16PairChannels(i * half + j, uniV.bits);
            pairs.push({ id: `${i}_${j}`, lo, hi });
          }
      } else for (const j of range(CPT / 2)) pairs.push({ id: `0_${j}`, lo: 2 * j, hi: 2 * j + 1 });
      const mx = vsig.reduce((e, v) => (e ? `max(${e}, ${v})` : v), '');
      pre.push(`      let vex = frexp(${mx}).exp;`);
      pre.push('      let vinv = ldexp(1.0, -vex); let vscb = ldexp(1.0, vex);');
      for (const { id } of pairs) for (const h of H) pre.push(`      var ah${id}_${h} = vec2<f16>();`);
      post.push(...f16AccFlush(pairs, G, '      '));
    }
    if (c.early && nb === TPG) {
      // one batch: its loads go to the start of the tile (vEarly), the math stays here
      vEarly.push('    let kb = 0u;', ...ld);
      V.push(...pre, ...mt, ...post);
    } else
      V.push(
        `    for (var kb = 0u; kb < ${TPG / nb}u; kb = kb + 1u) {`,
        ...ld,
        ...pre,
        ...mt,
        ...post,
        '    }',
      );
  } else {
    V.push(`    for (var k = 0u; k < ${TPG}u; k = k + 1u) {`);
    vtok('', 'k', V, V);
    V.push('    }');
  }

  // ---- prologue: query (folded per tile for uniform keys, rotated once for HIGGS) ---------------
  const pro: string[] = [];
  pro.push(`  for (var i = li; i < ${D * G}u; i = i + ${WG}u) {`);
  pro.push(`    let h = i / ${D}u; let d = i % ${D}u;`);
  pro.push(
    `    qraw[d * ${G}u + h] = q[qb + h * ${D}u + d] * p.scale${higK ? ` * aux[${aux.sk}u + d]` : ''};`,
  );
  pro.push('  }');
  pro.push(`  if (li < ${2 * G}u) { atomicStore(&wm[li], 0u); }`);
  pro.push('  if (li < 2u) { fl[li] = 0u; }');
  if (kh) pro.push(`  if (li < ${NKG}u) { atomicStore(&qmx[li], 0u); }`);
  pro.push('  if (p.N == 0xffffffffu) { part[0] = f32(k4[0].x) + aux[0] + f32(kbuf[0]) + f32(vbuf[0]); }');
  if (higK) {
    pro.push(`  for (var i = li; i < ${2 << higK.codeBits}u / 2u; i = i + ${WG}u) {`);
    pro.push(
      kh
        ? `    tabK16[i] = pack2x16float(vec2f(aux[${aux.tk}u + 2u * i], aux[${aux.tk}u + 2u * i + 1u]));`
        : `    tabK[i] = vec2f(aux[${aux.tk}u + 2u * i], aux[${aux.tk}u + 2u * i + 1u]);`,
    );
    pro.push('  }');
  }
  if (higV) {
    pro.push(`  for (var i = li; i < ${2 << higV.codeBits}u / 2u; i = i + ${WG}u) {`);
    pro.push(
      vh
        ? `    tabV16[i] = pack2x16float(vec2f(aux[${aux.tv}u + 2u * i], aux[${aux.tv}u + 2u * i + 1u]));`
        : `    tabV[i] = vec2f(aux[${aux.tv}u + 2u * i], aux[${aux.tv}u + 2u * i + 1u]);`,
    );
    pro.push('  }');
  }
  pro.push('  workgroupBarrier();');
  if (higK) {
    pro.push(...queryFwhtWgsl(D, G, WG));
    if (kh) pro.push('  var qm = 0.0;');
    pro.push(...queryUnitsWgsl(D, G, WG, kh));
    // the rotated query's largest magnitude: one atomic per subgroup (or per thread)
    if (kh)
      pro.push(
        c.subgroups
          ? '  { let m = subgroupMax(qm); if (subgroupElect()) { atomicMax(&qmx[0], bitcast<u32>(m)); } }'
          : '  atomicMax(&qmx[0], bitcast<u32>(qm));',
      );
    pro.push('  workgroupBarrier();');
    if (kh) {
      // f16 pairs of the rotated query (channels 2p, 2p + 1), scaled by a power of two below its largest element
      pro.push('  let qe = frexp(bitcast<f32>(atomicLoad(&qmx[0]))).exp;');
      pro.push('  let qinv = ldexp(1.0, -qe);');
      pro.push(...queryPairsWgsl(D, G, WG));
      pro.push('  if (li == 0u) { kqsc[0] = ldexp(1.0, qe); }');
      pro.push('  workgroupBarrier();');
    }
  }

  // per-tile fold of uniform key scales/mins into the query weights
  const fold: string[] = [];
  if (uniK) {
    const gs = uniK.groupSize;
    const s2b = (2 ** uniK.bits).toFixed(1);
    const NO = NKG * G;
    let R = 1;
    while (R * 2 * NO <= WG && R * 2 <= D) R *= 2;
    if (kh) {
      // f16 keys: both channels of a code pair per iteration; the folded weights are staged in f32
      // with each slot's largest magnitude, then packed to f16 scaled by a power of two below it
      const half = 16 / kBits;
      const sgMax = c.subgroups && NKG <= 4;
      if (sgMax)
        fold.push(
          `    ${range(NKG)
            .map((sl) => `var qm${sl} = 0.0;`)
            .join(' ')}`,
        );
      fold.push(`    for (var i = li; i < ${NKG * NP}u; i = i + ${WG}u) {`);
      fold.push(`      let sl = i / ${NP}u; let pr = i % ${NP}u;`);
      // channels (da, db) of pair pr: f16PairChannels, at run time
      fold.push(`      let da = (pr / ${half}u) * ${2 * half}u + pr % ${half}u; let db = da + ${half}u;`);
      fold.push(`      let ft = min(tstart + sl * ${slotTokens}u, p.N - 1u);`);
      fold.push(`      let fbase = (b * p.nBlocksK + ft / ${uniK.blockTokens}u) * ${uniK.blockWords}u;`);
      fold.push(`      let fg = ((ft % ${uniK.blockTokens}u) / ${gs}u) * ${C}u + hk * ${D}u;`);
      fold.push(
        `      let fsa = half_k(2u * fbase + fg + da) * ${s2b}; let fma_ = half_k(2u * fbase + ${uniK.nGroups}u + fg + da) ${KC ? `+ ${f16Center(kBits) - 1} *` : '-'} fsa;`,
      );
      fold.push(
        `      let fsb = half_k(2u * fbase + fg + db) * ${s2b}; let fmb = half_k(2u * fbase + ${uniK.nGroups}u + fg + db) ${KC ? `+ ${f16Center(kBits) - 1} *` : '-'} fsb;`,
      );
      fold.push('      var mx = 0.0;');
      for (const h of H) {
        fold.push(`      let fqa${h} = qraw[da * ${G}u + ${h}u]; let fqb${h} = qraw[db * ${G}u + ${h}u];`);
        fold.push(`      red[(sl * ${G}u + ${h}u) * ${D}u + da] = fqa${h} * fma_;`);
        fold.push(`      red[(sl * ${G}u + ${h}u) * ${D}u + db] = fqb${h} * fmb;`);
        fold.push(`      let fw${h} = vec2f(fqa${h} * fsa, fqb${h} * fsb);`);
        fold.push(`      qst[i * ${G}u + ${h}u] = fw${h}; mx = max(mx, max(abs(fw${h}.x), abs(fw${h}.y)));`);
      }
      // the slots' largest magnitudes: with subgroups (and ≤ 4 slots) one subgroupMax per slot
      // after the loop and one atomic per subgroup, else one atomic per iteration
      if (sgMax)
        for (const sl of range(NKG))
          fold.push(`      qm${sl} = select(qm${sl}, max(qm${sl}, mx), sl == ${sl}u);`);
      else fold.push('      atomicMax(&qmx[sl], bitcast<u32>(mx));');
      fold.push('    }');
      if (sgMax)
        for (const sl of range(NKG))
          fold.push(
            `    { let m = subgroupMax(qm${sl}); if (subgroupElect()) { atomicMax(&qmx[${sl}u], bitcast<u32>(m)); } }`,
          );
      fold.push('    workgroupBarrier();');
      fold.push(`    for (var i = li; i < ${NKG * NP * NU}u; i = i + ${WG}u) {`);
      fold.push(`      let inv = ldexp(1.0, -frexp(bitcast<f32>(atomicLoad(&qmx[i / ${NP * NU}u]))).exp);`);
      fold.push(
        G4
          ? `      qs16[i] = vec4u(${range(4)
              .map((k) => `pack2x16float(qst[4u * i + ${k}u] * inv)`)
              .join(', ')});`
          : '      qs16[i] = pack2x16float(qst[i] * inv);',
      );
      fold.push('    }');
      fold.push(
        `    if (li < ${NKG}u) { kqsc[li] = ldexp(1.0, frexp(bitcast<f32>(atomicLoad(&qmx[li]))).exp); }`,
      );
    } else {
      fold.push(`    for (var i = li; i < ${NKG * D}u; i = i + ${WG}u) {`);
      fold.push(`      let sl = i / ${D}u; let d = i % ${D}u;`);
      fold.push(`      let ft = min(tstart + sl * ${slotTokens}u, p.N - 1u);`);
      fold.push(`      let fbase = (b * p.nBlocksK + ft / ${uniK.blockTokens}u) * ${uniK.blockWords}u;`);
      fold.push(`      let fg = ((ft % ${uniK.blockTokens}u) / ${gs}u) * ${C}u + hk * ${D}u + d;`);
      fold.push(
        `      let fs = half_k(2u * fbase + fg) * ${s2b}; let fm = half_k(2u * fbase + ${uniK.nGroups}u + fg) - fs;`,
      );
      for (const h of H) {
        fold.push(`      let fq${h} = qraw[d * ${G}u + ${h}u];`);
        if (!sgfold) fold.push(`      red[(sl * ${G}u + ${h}u) * ${D}u + d] = fq${h} * fm;`);
      }
      fold.push(
        G4
          ? range(NU)
              .map(
                (u) =>
                  `      qs[${QO}(sl * ${D}u + d) * ${NU}u + ${u}u] = vec4f(${range(4)
                    .map((k) => `fq${4 * u + k}`)
                    .join(', ')}) * fs;`,
              )
              .join('\n')
          : H.map((h) => `      qs[${QO}(sl * ${D}u + d) * ${G}u + ${h}u] = fq${h} * fs;`).join('\n'),
      );
      fold.push('    }');
      fold.push('    workgroupBarrier();');
    }
    if (!sgfold) {
      fold.push(`    if (li < ${NO * R}u) {`);
      fold.push(`      let o = li / ${R}u; let r = li % ${R}u;`);
      fold.push('      var sum = 0.0;');
      fold.push(`      for (var k = r; k < ${D}u; k = k + ${R}u) { sum = sum + red[o * ${D}u + k]; }`);
      fold.push('      kbp[li] = sum;');
      fold.push('    }');
      fold.push('    workgroupBarrier();');
      fold.push(`    if (li < ${NO}u) {`);
      fold.push('      var sum = 0.0;');
      fold.push(`      for (var r = 0u; r < ${R}u; r = r + 1u) { sum = sum + kbp[li * ${R}u + r]; }`);
      fold.push(
        G4
          ? `      let sl = li / ${G}u; let h = li % ${G}u; kbias4[sl * ${NU}u + h / 4u][h % 4u] = sum;`
          : '      kbias[li] = sum;',
      );
      fold.push('    }');
      if (kh) fold.push(`    if (li < ${NKG}u) { atomicStore(&qmx[li], 0u); }`);
      fold.push('    workgroupBarrier();');
    }
  }

  // ---- epilogue: sums over threads, accumulators over token groups ------------------------------
  const epi: string[] = [];
  for (const h of H) epi.push(`  red[li * ${G}u + ${h}u] = l${h};`);
  epi.push('  workgroupBarrier();');
  epi.push(`  for (var k = ${WG / 2}u; k > 0u; k = k / 2u) {`);
  epi.push(
    `    if (li < k) { for (var h = 0u; h < ${G}u; h = h + 1u) { red[li * ${G}u + h] = red[li * ${G}u + h] + red[(li + k) * ${G}u + h]; } }`,
  );
  epi.push('    workgroupBarrier();');
  epi.push('  }');
  for (const h of H) epi.push(`  let L${h} = red[${h}u];`);
  epi.push('  workgroupBarrier();');
  for (const h of H) {
    const u = G4 ? h >> 2 : h;
    const k = G4 ? `[${h & 3}]` : '';
    for (const j of range(CPT)) {
      const bias = uniV ? ` + vb${Math.floor(j / Math.min(uniV.groupSize, CPT))}_${u}${k}` : '';
      epi.push(`  red[tg * ${D}u + vch0 + ${j}u] = acc${j}_${u}${k}${bias};`);
    }
    epi.push('  workgroupBarrier();');
    epi.push(`  { let o = ((b * Hq + hk * ${G}u + ${h}u) * p.nChunks + chunk) * ${D + 2}u;`);
    epi.push(`    if (li == 0u) { part[o] = m${h}; part[o + 1u] = L${h}; }`);
    epi.push(`    for (var d = li; d < ${D}u; d = d + ${WG}u) {`);
    epi.push('      var A = 0.0;');
    epi.push(`      for (var t = 0u; t < ${NTG}u; t = t + 1u) { A = A + red[t * ${D}u + d]; }`);
    epi.push('      part[o + 2u + d] = A;');
    epi.push('    }');
    epi.push('  }');
    epi.push('  workgroupBarrier();');
  }

  const kbiasDecl = uniK
    ? G4
      ? `var<workgroup> kbias4: array<vec4f, ${NKG * NU}>;
var<workgroup> kbp: array<f32, ${WG}>;`
      : `var<workgroup> kbias: array<f32, ${NKG * G}>;
var<workgroup> kbp: array<f32, ${WG}>;`
    : '';
  // kbias as units
  const kbiasFix = uniK && G4 ? 'kbias4' : 'kbias';
  const early = !!c.early && c.probe !== 1;
  const kLines = (early ? K.slice(kLoads) : K).join('\n').replaceAll('kbias[', `${kbiasFix}[`);
  const earlyLines = early ? [...K.slice(0, kLoads), ...vEarly].join('\n') : '';

  return `${kh || vh ? 'enable f16;' : ''}${c.subgroups ? 'enable subgroups;' : ''}
${SPLIT_ATTENTION_BINDINGS}
@group(0) @binding(5) var<storage, read> k4: array<vec4u>;
@group(0) @binding(6) var<storage, read> aux: array<f32>;
var<workgroup> qraw: array<f32, ${D * G}>;
${kh && uniK ? `var<workgroup> qst: array<vec2f, ${NKG * NP * G}>;` : `var<workgroup> qs: array<${unit}, ${qsUnits * (dbufQ ? 2 : 1)}>;`}
${
  kh
    ? `var<workgroup> qs16: array<${G4 ? 'vec4u' : 'u32'}, ${NKG * NP * NU}>;
var<workgroup> qmx: array<atomic<u32>, ${NKG}>;
var<workgroup> kqsc: array<f32, ${NKG}>;`
    : ''
}
${kbiasDecl}
var<workgroup> pw: array<${unit}, ${TT * NU * (dbuf ? 2 : 1)}>;
var<workgroup> fl: array<u32, 2>;
var<workgroup> red: array<f32, ${redLen}>;
var<workgroup> wm: array<atomic<u32>, ${2 * G}>;
${higK ? (kh ? `var<workgroup> tabK16: array<u32, ${1 << higK.codeBits}>;` : `var<workgroup> tabK: array<vec2f, ${1 << higK.codeBits}>;`) : ''}
${higV ? (vh ? `var<workgroup> tabV16: array<u32, ${1 << higV.codeBits}>;` : `var<workgroup> tabV: array<vec2f, ${1 << higV.codeBits}>;`) : ''}
fn half_k(i: u32) -> f32 { return unpack2x16float(kbuf[i >> 1u])[i & 1u]; }
fn half_v(i: u32) -> f32 { return unpack2x16float(vbuf[i >> 1u])[i & 1u]; }
// order-preserving u32 of an f32 (for atomicMax), and back
fn ord(x: f32) -> u32 { let u = bitcast<u32>(x); return select(u | 0x80000000u, ~u, (u & 0x80000000u) != 0u); }
fn unord(u: u32) -> f32 { return bitcast<f32>(select(~u, u & 0x7fffffffu, (u & 0x80000000u) != 0u)); }
fn pwu(tt: u32, u: u32) -> ${unit} {
  return pw[tt * ${NU}u + u];
}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32${sgfold ? ', @builtin(subgroup_invocation_id) sgi: u32, @builtin(subgroup_size) sgs: u32' : ''}) {
  let chunk = wid.x; let hk = wid.y; let b = wid.z;
  let Hq = p.Hkv * ${G}u;
  let qb = (b * Hq + hk * ${G}u) * ${D}u;
  let cg = li % ${NCG}u; let tg = li / ${NCG}u;
  let vch0 = cg * ${CPT}u;
  let vch = hk * ${D}u + vch0;
${c.probe ? '  var sink = 0u;' : ''}
${pro.join('\n')}
${H.map((h) => `  var m${h} = NEG; var l${h} = 0.0;`).join('\n')}
${range(CPT)
  .map((j) => U.map((u) => `  var acc${j}_${u} = ${zero};`).join(' '))
  .join('\n')}
${
  uniV
    ? range(NVG)
        .map((g) => U.map((u) => `  var vb${g}_${u} = ${zero};`).join(' '))
        .join('\n')
    : ''
}
  for (var tile = 0u; tile < p.tiles; tile = tile + 1u) {
    let tstart = (chunk * p.tiles + tile) * ${TT}u;
    if (tstart >= p.N) { break; }
    let par = tile & 1u;
${dbufQ ? `    let qo = par * ${qsUnits}u;` : ''}
${dbuf ? '' : '    workgroupBarrier();'}
${earlyLines}
${c.probe === 1 ? '' : fold.join('\n')}
${kLines}
${S.join('\n')}
${V.join('\n')}
  }
${epi.join('\n')}
${c.probe ? '  if (sink == 0x9e3779b9u) { part[0] = 1.0; }' : ''}
}`;
}

/**
 * Split combine for HIGGS values: like `decodeAttentionReduceWgsl`, then rotates each output row
 * back from the Hadamard domain (`out = signs ⊙ H(acc / L)`, orthonormal H). Params {nChunks};
 * bindings 1 = partials, 2 = out f32 [rows, D], 3 = aux (value signs at `signsOffset`). One
 * workgroup per row.
 */
export function tpReduceRotateWgsl(D: number, signsOffset: number): string {
  return `struct P { nChunks: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
var<workgroup> y: array<f32, ${D}>;
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
    y[d] = A / L;
  }
  workgroupBarrier();
  for (var h = 1u; h < ${D}u; h = h * 2u) {
    for (var i = li; i < ${D / 2}u; i = i + 128u) {
      let k = (i / h) * 2u * h + (i % h);
      let a = y[k]; let b = y[k + h];
      y[k] = a + b; y[k + h] = a - b;
    }
    workgroupBarrier();
  }
  for (var d = li; d < ${D}u; d = d + 128u) {
    out[row * ${D}u + d] = aux[${signsOffset}u + d] * y[d] * ${(1 / Math.sqrt(D)).toPrecision(9)};
  }
}`;
}
