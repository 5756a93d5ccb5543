/**
 * Subgroup-private fused decode attention over HIGGS K/V (`kernel: 'subgroup'`): the token-parallel
 * kernel's arithmetic without its per-tile workgroup barriers.
 *
 * One workgroup of {@link SG_SUBGROUPS} subgroups takes (batch, kv head, chunk of `tiles` tiles of
 * SUBGROUPS · SG · TPT tokens, SG the subgroup size). Each subgroup walks its own SG · TPT tokens of
 * every tile with its own online softmax, so nothing inside the tile loop waits for another
 * subgroup:
 * - **keys**: each invocation takes TPT tokens (`tile + tp·SG + lane`), the whole head: the pair
 *   codes are looked up in the key grid and multiplied by the query rotated once per workgroup
 *   (`q̃ = H(signs ⊙ q)`, workgroup memory, read only after the prologue);
 * - **softmax**: the subgroup's tile maximum per query head by `subgroupMax`, its running sum kept
 *   per invocation and added up by `subgroupAdd` at the end;
 * - **values**: each invocation owns D / SG channels of every query head; the weight `p · scale` of
 *   each token comes from the invocation that scored it (`subgroupShuffle`), and its pair codes are
 *   looked up in the value grid. Accumulators stay in the rotated domain; the split combine
 *   (`tpReduceRotateWgsl`) rotates them back.
 * The workgroup's subgroups are merged once, after the loop, and written in the partials layout of
 * the other split kernels (max, sum, acc[D]).
 */
import {
  SPLIT_ATTENTION_BINDINGS,
  codes,
  f16AccFlush,
  f16ScoreFlush,
  queryFwhtWgsl,
  queryPairsWgsl,
  queryUnitAbsMax,
  queryUnitsWgsl,
  tpAuxLayout,
} from './decode-attention-tp.wgsl.js';
import type { KvTileFormat } from './decode-attention.wgsl.js';

/** A HIGGS tile format (the only one this kernel reads). */
export type HiggsTileFormat = Extract<KvTileFormat, { kind: 'higgs' }>;

/** Subgroups per workgroup. */
export const SG_SUBGROUPS = 4;

/** Compile-time configuration of the subgroup-private kernel. */
export interface SgAttentionConfig {
  readonly headDim: number;
  /** query heads per kv head */
  readonly group: number;
  readonly keys: HiggsTileFormat;
  readonly values: HiggsTileFormat;
  /** kvHeads × headDim */
  readonly channels: number;
  /** the device's subgroup size (it must have exactly one; checked again on the GPU) */
  readonly subgroupSize: number;
  /** tokens per invocation in a tile (1 or 2) */
  readonly tpt: number;
  /** value phase: tokens whose loads are issued together (divides the subgroup size) */
  readonly vbatch: number;
  /** keys read as vec4<u32> (binding 5 views the key buffer); needs 16-byte aligned head rows */
  readonly kvec: boolean;
  /**
   * keys read as vec4<u32> (binding 5) where head rows are 8- but not 16-byte aligned (an even number of
   * words, rows and blocks in whole vec4s): ⌈(W + 2) / 4⌉ loads from the 16-byte boundary at or below
   * the row, its W words picked by the head's offset (the same for the whole workgroup)
   */
  readonly kpair?: boolean;
  /**
   * packed-f16 arithmetic (needs `shader-f16`): key grid points × the rotated query as `vec2<f16>`
   * pairs (the query scaled by a power of two below its largest element), summed in f16 over
   * {@link SG_F16_KFLUSH} pairs and then into the f32 score; value grid points × the weights (scaled
   * by a power of two below the tile's largest value scale, two heads per shuffled word), summed in
   * f16 over the subgroup's SG tokens and then into the f32 accumulators
   */
  readonly f16?: boolean;
  /**
   * Benchmark probes (wrong results on purpose): 1 = the key and value codes only loaded (XOR-ed into a
   * sink; the softmax runs on zero scores), 2 = the key math only (values loaded), 3 = the value math
   * only (keys loaded, zero scores)
   */
  readonly probe?: number;
  /**
   * value codes loaded cooperatively: each load instruction of the subgroup reads whole head rows of
   * SG / W tokens (W: words of a head row, which must divide SG), and each invocation takes its words of
   * a token from the invocation that loaded them (`subgroupShuffle`); else every token is one load of
   * its head row by the whole subgroup. See {@link sgVcoopUnsupported}.
   */
  readonly vcoop?: boolean;
  /**
   * value token groups TG (1, 2, 4, …; divides the subgroup size): the value phase splits the subgroup
   * into TG groups of SG / TG invocations, group k taking tokens k, k + TG, … of the tile and each
   * invocation of a group D·TG / SG channels of its tokens, so that one load instruction reads TG whole
   * head rows; the groups' accumulators are summed (`subgroupShuffleXor`) once, after the loop.
   * Default 1 (every invocation takes every token; `DecodeAttention` picks 2 where it can). See
   * {@link sgVgroupsUnsupported}.
   */
  readonly vgroups?: number;
  /**
   * key rows of the next tile loaded while this one is computed (loop-carried registers: the words of
   * TPT key head rows more per invocation); else each tile loads its own at its start
   */
  readonly kprefetch?: boolean;
  /**
   * pair codes cut out by `% 2^bits` rather than a mask (see `codes`), so that Tint's range analysis
   * drops the grid lookups' bounds clamps; `DecodeAttention` turns it on unless `tuning.modIndex` is false
   */
  readonly modIndex?: boolean;
  /** f16 keys: code pairs per f16 partial score (divides D / 2; default {@link SG_F16_KFLUSH}) */
  readonly kflush?: number;
}

/** Why value token groups of `vgroups` cannot run for this configuration (or null when they can). */
export function sgVgroupsUnsupported(
  c: Pick<SgAttentionConfig, 'headDim' | 'subgroupSize' | 'vbatch' | 'vcoop'> & { readonly vgroups: number },
): string | null {
  const TG = c.vgroups;
  if (!Number.isInteger(TG) || TG < 1 || (TG & (TG - 1)) !== 0 || c.subgroupSize % TG !== 0)
    return `${TG} groups (a power of two dividing the subgroup size ${c.subgroupSize})`;
  if (TG === 1) return null;
  if (c.vcoop) return 'cooperative value loads (each token is read by one group already)';
  const channels = (c.headDim * TG) / c.subgroupSize;
  if (!Number.isInteger(channels) || channels % 2 !== 0)
    return `${TG} groups with headDim ${c.headDim} (each invocation needs whole value pairs)`;
  if ((c.subgroupSize / TG) % c.vbatch !== 0)
    return `value batches of ${c.vbatch} tokens vs ${c.subgroupSize / TG} tokens per group`;
  return null;
}

/** Why cooperative value loads cannot run for this configuration (or null when they can). */
export function sgVcoopUnsupported(
  c: Pick<SgAttentionConfig, 'headDim' | 'values' | 'subgroupSize' | 'vbatch'>,
): string | null {
  const W = ((c.headDim / 2) * c.values.codeBits) / 32;
  if (!Number.isInteger(W) || c.subgroupSize % W !== 0)
    return `value head rows of ${W} words vs subgroups of ${c.subgroupSize}`;
  const perLoad = c.subgroupSize / W;
  if (c.vbatch % perLoad !== 0) return `value batches of ${c.vbatch} tokens vs ${perLoad} tokens per load`;
  return null;
}

/** f16 keys: code pairs per f16 partial score. */
export const SG_F16_KFLUSH = 16;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Tokens of one tile of the whole workgroup. */
export function sgTileTokens(subgroupSize: number, tpt: number): number {
  return SG_SUBGROUPS * subgroupSize * tpt;
}

/** Why the subgroup kernels cannot run on a device with these subgroup sizes (null: one fixed size). */
export function sgFixedSizeUnsupported(subgroupSizes: readonly [number, number] | null): string | null {
  if (!subgroupSizes) return 'the device does not report its subgroup size';
  const [lo, hi] = subgroupSizes;
  return lo === hi ? null : `subgroups of ${lo}..${hi} invocations (needs one fixed size)`;
}

/** Why the subgroup-private kernel cannot read this K/V pair on this device (or null when it can). */
export function sgUnsupported(
  keys: KvTileFormat,
  values: KvTileFormat,
  headDim: number,
  subgroupSizes: readonly [number, number] | null,
): string | null {
  if (keys.kind !== 'higgs') return `${keys.kind} keys (it reads HIGGS keys only)`;
  if (values.kind !== 'higgs') return `${values.kind} values (it reads HIGGS values only)`;
  if (headDim % 64 !== 0 || headDim > 256) return `headDim ${headDim}`;
  if (keys.block !== headDim) return `key Hadamard block ${keys.block} ≠ headDim ${headDim}`;
  if (values.block !== headDim) return `value Hadamard block ${values.block} ≠ headDim ${headDim}`;
  const whySize = sgFixedSizeUnsupported(subgroupSizes);
  if (whySize) return whySize;
  const lo = subgroupSizes![0];
  if ((headDim / lo) % 2 !== 0 || headDim / lo < 2)
    return `subgroups of ${lo} with headDim ${headDim} (each invocation needs whole value pairs)`;
  return null;
}

/**
 * WGSL lines of one tile's online softmax in the subgroup kernels, per unit u of query heads (vec4f per
 * 4 heads when G % 4 = 0): the subgroup's maximum `mn{u}` of the masked scores `sa{tp}_{u}`, the
 * correction `al{u}` of the running state (`m{u}` updated), the weights `e{tp}_{u}` and the running sum
 * `l{u}`; `after(u)` adds lines at the end of each unit's block.
 */
export function sgSoftmaxWgsl(tpt: number, units: number, after: (u: number) => string[]): string[] {
  const L: string[] = [];
  for (const u of range(units)) {
    const mx = range(tpt).reduce((e, tp) => (e ? `max(${e}, sa${tp}_${u})` : `sa${tp}_${u}`), '');
    L.push(`    let mn${u} = max(m${u}, subgroupMax(${mx}));`);
    L.push(`    let al${u} = exp(m${u} - mn${u}); m${u} = mn${u};`);
    for (const tp of range(tpt)) L.push(`    let e${tp}_${u} = exp(sa${tp}_${u} - mn${u});`);
    L.push(
      `    l${u} = l${u} * al${u} + ${range(tpt)
        .map((tp) => `e${tp}_${u}`)
        .join(' + ')};`,
    );
    L.push(...after(u));
  }
  return L;
}

/**
 * WGSL lines of the subgroup kernels' epilogue: each subgroup's maximum and sum per query head and its
 * accumulators `acc{ch}_{u}` (the invocation's D·TG / SG channels from `vcg · VC`, summed over the value
 * token groups first) into workgroup memory (`mred`, `racc`), then the workgroup's merge of its
 * subgroups, written in the split partials layout (max, sum, acc[D]) of chunk `chunk`.
 */
export function sgMergeWgsl(c: {
  readonly headDim: number;
  readonly group: number;
  readonly subgroupSize: number;
  readonly vgroups: number;
}): string[] {
  const D = c.headDim;
  const G = c.group;
  const SG = c.subgroupSize;
  const TG = c.vgroups;
  const NSG = SG_SUBGROUPS;
  const WG = NSG * SG;
  const G4 = G % 4 === 0;
  const U = range(G4 ? G / 4 : G);
  const CG = SG / TG;
  const VC = D / CG;
  const vcg = TG > 1 ? 'vcg' : 'lane';
  const E: string[] = [];
  for (const u of U) E.push(`  let lt${u} = subgroupAdd(l${u});`);
  const comp = (v: string, h: number) => (G4 ? `${v}${h >> 2}[${h & 3}]` : `${v}${h}`);
  E.push('  if (lane == 0u) {');
  for (const h of range(G)) {
    E.push(`    mred[(sid * ${G}u + ${h}u) * 2u] = ${comp('m', h)};`);
    E.push(`    mred[(sid * ${G}u + ${h}u) * 2u + 1u] = ${comp('lt', h)};`);
  }
  E.push('  }');
  // token groups: the sums of the groups' accumulators, in every group
  for (let s = CG; s < SG; s *= 2)
    for (const ch of range(VC))
      for (const u of U)
        E.push(`  acc${ch}_${u} = acc${ch}_${u} + subgroupShuffleXor(acc${ch}_${u}, ${s}u);`);
  if (TG > 1) E.push('  if (vtg == 0u) {');
  for (const h of range(G))
    for (const ch of range(VC))
      E.push(`  racc[(sid * ${G}u + ${h}u) * ${D}u + ${vcg} * ${VC}u + ${ch}u] = ${comp(`acc${ch}_`, h)};`);
  if (TG > 1) E.push('  }');
  E.push('  workgroupBarrier();');
  E.push(`  for (var h = 0u; h < ${G}u; h = h + 1u) {`);
  E.push('    var M = NEG;');
  E.push(`    for (var s = 0u; s < ${NSG}u; s = s + 1u) { M = max(M, mred[(s * ${G}u + h) * 2u]); }`);
  // a subgroup size other than the one compiled in would have read the wrong tokens: say so loudly
  E.push('    if (sgs != SGN) { M = bitcast<f32>(0x7fc00000u | (sgs & 0u)); }');
  E.push(`    var f: array<f32, ${NSG}>; var Lsum = 0.0;`);
  E.push(`    for (var s = 0u; s < ${NSG}u; s = s + 1u) {`);
  E.push(
    `      f[s] = exp(mred[(s * ${G}u + h) * 2u] - M); Lsum = Lsum + mred[(s * ${G}u + h) * 2u + 1u] * f[s];`,
  );
  E.push('    }');
  E.push(`    let o = ((b * Hq + hk * ${G}u + h) * p.nChunks + chunk) * ${D + 2}u;`);
  E.push('    if (li == 0u) { part[o] = M; part[o + 1u] = Lsum; }');
  E.push(`    for (var d = li; d < ${D}u; d = d + ${WG}u) {`);
  E.push('      var A = 0.0;');
  E.push(
    `      for (var s = 0u; s < ${NSG}u; s = s + 1u) { A = A + racc[(s * ${G}u + h) * ${D}u + d] * f[s]; }`,
  );
  E.push('      part[o + 2u + d] = A;');
  E.push('    }');
  E.push('  }');
  return E;
}

/**
 * WGSL of the subgroup kernels' half readers and entry point, through its first lines: the workgroup's
 * (chunk, kv head, sequence), the query's offset `qb`, the subgroup's index `sid` in the workgroup (from an
 * atomic, assuming nothing about how invocations form subgroups) and a never-taken read of every binding
 * (so that the automatic layout keeps them all). Needs `nsg: atomic<u32>` in workgroup memory.
 */
export function sgEntryWgsl(D: number, G: number, SG: number): string {
  const NSG = SG_SUBGROUPS;
  const WG = NSG * SG;
  return `fn half_k(i: u32) -> f32 { return unpack2x16float(kbuf[i >> 1u])[i & 1u]; }
fn half_v(i: u32) -> f32 { return unpack2x16float(vbuf[i >> 1u])[i & 1u]; }
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32,
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sgs: u32) {
  let chunk = wid.x; let hk = wid.y; let b = wid.z;
  let Hq = p.Hkv * ${G}u;
  let qb = (b * Hq + hk * ${G}u) * ${D}u;
  // this subgroup's index in the workgroup (no assumption about how invocations form subgroups)
  var sid0 = 0u;
  if (subgroupElect()) { sid0 = atomicAdd(&nsg, 1u); }
  let sid = min(subgroupBroadcastFirst(sid0), ${NSG - 1}u);
  if (p.N == 0xffffffffu) { part[0] = f32(k4[0].x) + aux[0] + f32(kbuf[0]) + f32(vbuf[0]); }`;
}

/** Cache key of a configuration. */
export function sgAttentionKey(c: SgAttentionConfig): string {
  const f = (x: HiggsTileFormat) =>
    `h${x.dim}:${x.bits}:${x.codeBits}:${x.block}b${x.blockTokens}w${x.blockWords}`;
  const extra = c.kflush && c.kflush !== SG_F16_KFLUSH ? `:kf${c.kflush}` : '';
  return `dattn-sg:${c.headDim}:${c.group}:${f(c.keys)}:${f(c.values)}:${c.channels}:s${c.subgroupSize}:t${c.tpt}:b${c.vbatch}:${c.kvec ? 'v' : c.kpair ? 'p' : 's'}:${c.f16 ? 'h' : 'f'}:p${c.probe ?? 0}${c.vcoop ? ':vc' : ''}${(c.vgroups ?? 1) > 1 ? `:g${c.vgroups}` : ''}${c.modIndex ? ':m' : ''}${c.kprefetch ? ':kp' : ''}${extra}`;
}

/** Workgroup memory of the kernel (bytes). */
export function sgSharedBytes(
  c: Pick<SgAttentionConfig, 'headDim' | 'group' | 'keys' | 'values' | 'f16'>,
): number {
  const D = c.headDim;
  const G = c.group;
  // f16: the packed query pairs, its maximum, and the grids once more as packed pairs
  const f16 = c.f16 ? (D / 2) * G + 1 + (1 << c.keys.codeBits) + (1 << c.values.codeBits) : 0;
  return (
    4 * (2 * D * G + (2 << c.keys.codeBits) + (2 << c.values.codeBits) + SG_SUBGROUPS * G * (D + 2) + 1 + f16)
  );
}

/**
 * Bindings as the token-parallel kernel: 0 = params {N, Hkv, tiles, nChunks, scale, nBlocksK,
 * nBlocksV}, 1 = q f32 [B, Hq, D], 2 = keys (u32), 3 = values (u32), 4 = partials f32
 * [B, Hq, nChunks, D + 2], 5 = keys as vec4<u32>, 6 = aux f32 (`tpAuxData`). Dispatch (nChunks, Hkv, B).
 */
export function sgAttentionWgsl(c: SgAttentionConfig): string {
  const D = c.headDim;
  const G = c.group;
  const C = c.channels;
  const SG = c.subgroupSize;
  const TPT = c.tpt;
  const NSG = SG_SUBGROUPS;
  const WG = NSG * SG;
  const SGT = SG * TPT;
  const TT = WG * TPT;
  const VB = c.vbatch;
  const kf = c.keys;
  const vf = c.values;
  const why = sgUnsupported(kf, vf, D, [SG, SG]);
  if (why) throw new Error(`sgAttentionWgsl: ${why}`);
  if (TPT !== 1 && TPT !== 2) throw new Error(`sgAttentionWgsl: tpt ${TPT}`);
  if (!Number.isInteger(VB) || VB < 1 || SG % VB !== 0) throw new Error(`sgAttentionWgsl: vbatch ${VB}`);
  const G4 = G % 4 === 0;
  const NU = G4 ? G / 4 : G;
  const U = range(NU);
  const unit = G4 ? 'vec4f' : 'f32';
  const zero = G4 ? 'vec4f(0.0)' : '0.0';
  const neg = G4 ? 'vec4f(NEG)' : 'NEG';
  const aux = tpAuxLayout(c);
  const kcb = kf.codeBits;
  const vcb = vf.codeBits;
  const Hkv = C / D;
  const kHeadWords = ((D / 2) * kcb) / 32;
  const kRowWords = ((C / 2) * kcb) / 32;
  const vHeadWords = ((D / 2) * vcb) / 32;
  const vRowWords = ((C / 2) * vcb) / 32;
  // value token groups TG of CG invocations; value channels per invocation, and their pair codes' bits
  const TG = c.vgroups ?? 1;
  const whyG = sgVgroupsUnsupported({ ...c, vgroups: TG });
  if (whyG) throw new Error(`sgAttentionWgsl: value token groups: ${whyG}`);
  const CG = SG / TG;
  const vcg = TG > 1 ? 'vcg' : 'lane';
  const VC = D / CG;
  const PPL = VC / 2;
  const laneBits = PPL * vcb;
  // the invocation's first code starts at bit (vcg·laneBits) & 31 of its first word (vcg: its index in its group)
  const shifts = new Set(range(CG).map((l) => (l * laneBits) & 31));
  const aligned = shifts.size === 1 && shifts.has(0);
  const maxShift = Math.max(...shifts);
  const NWV = Math.ceil((maxShift + laneBits) / 32);
  const NF = Math.ceil(laneBits / 32);
  const h16 = !!c.f16;
  // cooperative value loads: W words per head row, TPL tokens per load instruction
  const W = vHeadWords;
  const TPL = SG / W;
  if (c.vcoop) {
    const whyC = sgVcoopUnsupported(c);
    if (whyC) throw new Error(`sgAttentionWgsl: cooperative value loads: ${whyC}`);
  }
  if (c.kpair && (c.kvec || kHeadWords % 2 !== 0))
    throw new Error(
      `sgAttentionWgsl: kpair needs head rows of an even number of words not read as vec4 (${kHeadWords})`,
    );
  const KF = c.kflush ?? SG_F16_KFLUSH;
  if (h16 && (!Number.isInteger(KF) || KF < 1 || (D / 2) % KF !== 0))
    throw new Error(`sgAttentionWgsl: ${D / 2} key pairs vs flushes of ${KF}`);
  const NHW = Math.ceil(G / 2);

  const L: string[] = [];
  // ---- keys: TPT tokens per invocation ---------------------------------------------------------
  // the raw loads of the key row at word `a` into `dst(v)` (vec4s or words)
  const nKv = c.kpair ? Math.ceil((kHeadWords + 2) / 4) : c.kvec ? kHeadWords / 4 : kHeadWords;
  const loadsAt = (a: string, dst: (v: number) => string, decl: string): string[] =>
    range(nKv).map(
      (v) => `    ${decl}${dst(v)} = ${c.kpair || c.kvec ? `k4[${a} / 4u + ${v}u]` : `kbuf[${a} + ${v}u]`};`,
    );
  // the word of token `t`'s key row (prefetch)
  const rowWord = (t: string) =>
    `(b * p.nBlocksK + min(${t}, p.N - 1u) / ${kf.blockTokens}u) * ${kf.blockWords}u + ${kf.scaleWords}u + (min(${t}, p.N - 1u) % ${kf.blockTokens}u) * ${kRowWords}u + hk * ${kHeadWords}u`;
  const raw = (tp: number, v: number) => (c.kpair || c.kvec ? `kv${tp}_${v}` : `kw${tp}_${v}`);
  for (const tp of range(TPT)) {
    L.push(`    let t${tp} = sstart + ${tp * SG}u + lane;`);
    L.push(`    let kt${tp} = min(t${tp}, p.N - 1u);`);
    L.push(`    let kblk${tp} = kt${tp} / ${kf.blockTokens}u; let kti${tp} = kt${tp} % ${kf.blockTokens}u;`);
    L.push(`    let kbase${tp} = (b * p.nBlocksK + kblk${tp}) * ${kf.blockWords}u;`);
    if (c.kprefetch) {
      // this tile's words were loaded during the previous tile; the next tile's are issued now
      for (const v of range(nKv)) L.push(`    let ${raw(tp, v)} = kn${tp}_${v};`);
      L.push(`    let kcwn${tp} = ${rowWord(`t${tp} + ${TT}u`)};`);
      L.push(...loadsAt(`kcwn${tp}`, (v) => `kn${tp}_${v}`, ''));
    } else {
      L.push(
        `    let kcw${tp} = kbase${tp} + ${kf.scaleWords}u + kti${tp} * ${kRowWords}u + hk * ${kHeadWords}u;`,
      );
      L.push(...loadsAt(`kcw${tp}`, (v) => raw(tp, v), 'let '));
    }
    if (c.kpair) {
      for (const wi of range(kHeadWords))
        L.push(
          `    let kw${tp}_${wi} = select(kv${tp}_${wi >> 2}[${wi & 3}], kv${tp}_${(wi + 2) >> 2}[${(wi + 2) & 3}], kodd);`,
        );
    } else if (c.kvec) {
      for (const wi of range(kHeadWords)) L.push(`    let kw${tp}_${wi} = kv${tp}_${wi >> 2}[${wi & 3}];`);
    }
    L.push(`    let ksc${tp} = half_k(2u * kbase${tp} + kti${tp} * ${Hkv}u + hk);`);
    // the value scale of the same token
    L.push(`    let vsb${tp} = (b * p.nBlocksV + kt${tp} / ${vf.blockTokens}u) * ${vf.blockWords}u;`);
    L.push(`    let vsc${tp} = half_v(2u * vsb${tp} + (kt${tp} % ${vf.blockTokens}u) * ${Hkv}u + hk);`);
  }
  // prefetch: the first tile's words, before the loop
  const K0: string[] = [];
  if (c.kprefetch)
    for (const tp of range(TPT)) {
      K0.push(
        `    let kcw0n${tp} = ${rowWord(`chunk * p.tiles * ${TT}u + sid * ${SGT}u + ${tp * SG}u + lane`)};`,
      );
      K0.push(...loadsAt(`kcw0n${tp}`, (v) => `kn${tp}_${v}`, 'var '));
    }
  const keyMath = !c.probe || c.probe === 2;
  const valueMath = !c.probe || c.probe === 3;
  const idx: string[][] = range(TPT).map(() => []);
  if (keyMath)
    for (const tp of range(TPT))
      codes(`kw${tp}_`, D / 2, kcb, 'raw', (_j, e) => idx[tp]!.push(e), L, `k${tp}_`, c.modIndex);
  else
    for (const tp of range(TPT))
      for (const wi of range(kHeadWords)) L.push(`    sink = sink ^ kw${tp}_${wi};`);
  for (const tp of range(TPT)) for (const u of U) L.push(`    var sa${tp}_${u} = ${zero};`);
  if (h16 && keyMath) {
    // f16: per KF pairs, one vec2<f16> FMA per pair and head, then into the f32 score × kqsc
    for (let p0 = 0; p0 < D / 2; p0 += KF) {
      for (let j = p0; j < p0 + KF; j++) {
        for (const u of U) L.push(`    let kq${j}_${u} = qs16[${j * NU + u}u];`);
        for (const tp of range(TPT)) {
          L.push(`    let kx${tp}_${j} = bitcast<vec2<f16>>(tabK16[${idx[tp]![j]}]);`);
          for (let h = 0; h < G; h++) {
            const q = G4 ? `kq${j}_${h >> 2}[${h & 3}]` : `kq${j}_${h}`;
            L.push(
              j === p0
                ? `    var ha${tp}_${h} = kx${tp}_${j} * bitcast<vec2<f16>>(${q});`
                : `    ha${tp}_${h} = fma(kx${tp}_${j}, bitcast<vec2<f16>>(${q}), ha${tp}_${h});`,
            );
          }
        }
      }
      L.push(...f16ScoreFlush(TPT, G, (tp, h) => `ha${tp}_${h}`, 'kqsc'));
      // the next flush group declares its partial sums anew
      if (p0 + KF < D / 2) L.push('    {');
    }
    for (let p0 = KF; p0 < D / 2; p0 += KF) L.push('    }');
  }
  for (const j of h16 || !keyMath ? [] : range(D / 2)) {
    for (const u of U)
      L.push(`    let qa${j}_${u} = qs[${2 * j * NU + u}u]; let qb${j}_${u} = qs[${(2 * j + 1) * NU + u}u];`);
    for (const tp of range(TPT)) {
      L.push(`    let kp${tp}_${j} = tabK[${idx[tp]![j]}];`);
      for (const u of U)
        L.push(
          `    sa${tp}_${u} = fma(qa${j}_${u}, ${unit}(kp${tp}_${j}.x), fma(qb${j}_${u}, ${unit}(kp${tp}_${j}.y), sa${tp}_${u}));`,
        );
    }
  }
  // ---- softmax: the subgroup's maximum, weights p·scale -----------------------------------------
  for (const tp of range(TPT))
    for (const u of U) L.push(`    sa${tp}_${u} = select(sa${tp}_${u} * ksc${tp}, ${neg}, t${tp} >= p.N);`);
  L.push(
    ...sgSoftmaxWgsl(TPT, NU, (u) => [
      ...(h16 ? [] : range(TPT).map((tp) => `    let w${tp}_${u} = e${tp}_${u} * vsc${tp};`)),
      ...range(VC).map((ch) => `    acc${ch}_${u} = acc${ch}_${u} * al${u};`),
    ]),
  );
  if (h16) {
    // f16 weights below 1: p·scale over a power of two above the tile's largest value scale, two
    // heads per word (one shuffle per two heads and token)
    const vmx = range(TPT).reduce((e, tp) => (e ? `max(${e}, vsc${tp})` : `vsc${tp}`), '');
    L.push(`    let vex = frexp(subgroupMax(${vmx})).exp;`);
    L.push('    let vinv = ldexp(1.0, -vex); let vscb = ldexp(1.0, vex);');
    const eh = (tp: number, h: number) =>
      h >= G ? '0.0' : G4 ? `e${tp}_${h >> 2}[${h & 3}]` : `e${tp}_${h}`;
    for (const tp of range(TPT)) {
      L.push(`    let vsi${tp} = vsc${tp} * vinv;`);
      for (const k of range(NHW))
        L.push(
          `    let wp${tp}_${k} = pack2x16float(vec2f(${eh(tp, 2 * k)}, ${eh(tp, 2 * k + 1)}) * vsi${tp});`,
        );
    }
  }
  // ---- values: the invocation's channels of every token of the subgroup's tile -------------------
  for (const tp of range(TPT)) {
    if (h16) {
      L.push('    {');
      for (const j of range(PPL)) for (let h = 0; h < G; h++) L.push(`    var ah${j}_${h} = vec2<f16>();`);
    }
    L.push(`    for (var i0 = 0u; i0 < ${SG / TG}u; i0 = i0 + ${VB}u) {`);
    // the subgroup's token of batch entry i: the group's (i0 + i)-th
    const tok = (i: number) => (TG > 1 ? `(i0 + ${i}u) * ${TG}u + vtg` : `i0 + ${i}u`);
    if (c.vcoop) {
      // load n: tokens n·TPL … n·TPL + TPL − 1 of the batch, invocation (j·W + w) holding word w of token j;
      // token i's word (vwl + k) of the row then comes from invocation (i % TPL)·W + vwl + k
      for (const n of range(VB / TPL)) {
        L.push(`      let cvt${n} = min(sstart + ${tp * SG + n * TPL}u + i0 + cvj, p.N - 1u);`);
        L.push(
          `      let cva${n} = vbuf[(b * p.nBlocksV + cvt${n} / ${vf.blockTokens}u) * ${vf.blockWords}u + ${vf.scaleWords}u + (cvt${n} % ${vf.blockTokens}u) * ${vRowWords}u + hk * ${vHeadWords}u + cvw];`,
        );
      }
      for (const i of range(VB))
        for (const k of range(NWV))
          L.push(
            `      let va${i}_${k} = subgroupShuffle(cva${Math.floor(i / TPL)}, ${(i % TPL) * W}u + min(vwl + ${k}u, ${W - 1}u));`,
          );
    } else
      for (const i of range(VB)) {
        L.push(
          TG > 1
            ? `      let vt${i} = min(sstart + ${tp * SG}u + ${tok(i)}, p.N - 1u);`
            : `      let vt${i} = min(sstart + ${tp * SG + i}u + i0, p.N - 1u);`,
        );
        L.push(
          `      let vw${i} = (b * p.nBlocksV + vt${i} / ${vf.blockTokens}u) * ${vf.blockWords}u + ${vf.scaleWords}u + (vt${i} % ${vf.blockTokens}u) * ${vRowWords}u + vho;`,
        );
        for (const k of range(NWV)) L.push(`      let va${i}_${k} = vbuf[vw${i} + ${k}u];`);
      }
    if (!valueMath)
      for (const i of range(VB)) for (const k of range(NWV)) L.push(`      sink = sink ^ va${i}_${k};`);
    for (const i of valueMath ? range(VB) : []) {
      // the invocation's bits, from bit 0 of `vf${i}_0`
      for (const k of range(NF)) {
        const hi = k + 1 < NWV ? `((va${i}_${k + 1} << 1u) << (31u - vsh))` : '0u';
        L.push(
          aligned
            ? `      let vf${i}_${k} = va${i}_${k};`
            : `      let vf${i}_${k} = (va${i}_${k} >> vsh) | ${hi};`,
        );
      }
      const vidx: string[] = [];
      codes(`vf${i}_`, PPL, vcb, 'raw', (_j, e) => vidx.push(e), L, `v${i}_`, c.modIndex);
      if (h16) {
        for (const k of range(NHW))
          L.push(`      let wh${i}_${k} = bitcast<vec2<f16>>(subgroupShuffle(wp${tp}_${k}, ${tok(i)}));`);
        for (const j of range(PPL)) {
          L.push(`      let vp${i}_${j} = bitcast<vec2<f16>>(tabV16[${vidx[j]}]);`);
          for (let h = 0; h < G; h++)
            L.push(
              `      ah${j}_${h} = fma(vp${i}_${j}, vec2<f16>(wh${i}_${h >> 1}[${h & 1}]), ah${j}_${h});`,
            );
        }
        continue;
      }
      for (const u of U) L.push(`      let ww${i}_${u} = subgroupShuffle(w${tp}_${u}, ${tok(i)});`);
      for (const j of range(PPL)) {
        L.push(`      let vp${i}_${j} = tabV[${vidx[j]}];`);
        for (const u of U) {
          L.push(`      acc${2 * j}_${u} = fma(${unit}(vp${i}_${j}.x), ww${i}_${u}, acc${2 * j}_${u});`);
          L.push(
            `      acc${2 * j + 1}_${u} = fma(${unit}(vp${i}_${j}.y), ww${i}_${u}, acc${2 * j + 1}_${u});`,
          );
        }
      }
    }
    L.push('    }');
    if (h16) {
      // the f16 sums of the subgroup's SG tokens, into the f32 accumulators (× the power of two)
      L.push(
        ...f16AccFlush(
          range(PPL).map((j) => ({ id: `${j}`, lo: 2 * j, hi: 2 * j + 1 })),
          G,
          '    ',
        ),
      );
      L.push('    }');
    }
  }

  // ---- epilogue: merge the subgroups ------------------------------------------------------------
  const E: string[] = [];
  E.push(...sgMergeWgsl({ headDim: D, group: G, subgroupSize: SG, vgroups: TG }));

  // f16: the rotated query as packed pairs over a power of two above its largest element (kqsc), the grids packed
  const f16Prologue = `  var qm = 0.0;
  for (var i = li; i < ${D * NU}u; i = i + ${WG}u) {
    qm = max(qm, ${queryUnitAbsMax(G)});
  }
  { let m = subgroupMax(qm); if (subgroupElect()) { atomicMax(&qmx, bitcast<u32>(m)); } }
  for (var i = li; i < ${1 << kcb}u; i = i + ${WG}u) { tabK16[i] = pack2x16float(tabK[i]); }
  for (var i = li; i < ${1 << vcb}u; i = i + ${WG}u) { tabV16[i] = pack2x16float(tabV[i]); }
  workgroupBarrier();
  let qe = frexp(bitcast<f32>(atomicLoad(&qmx))).exp;
  let qinv = ldexp(1.0, -qe); let kqsc = ldexp(1.0, qe);
${queryPairsWgsl(D, G, WG).join('\n')}
  workgroupBarrier();
`;

  // the tile loop's bound depends on the subgroup's index, which is uniform in each subgroup but not
  // to WGSL's analysis (it comes from subgroupBroadcastFirst)
  return `${h16 ? 'enable f16;\n' : ''}enable subgroups;
diagnostic(off, subgroup_uniformity);
${SPLIT_ATTENTION_BINDINGS}
@group(0) @binding(5) var<storage, read> k4: array<vec4u>;
@group(0) @binding(6) var<storage, read> aux: array<f32>;
const SGN = ${SG}u;
var<workgroup> qraw: array<f32, ${D * G}>;
var<workgroup> qs: array<${unit}, ${D * NU}>;
var<workgroup> tabK: array<vec2f, ${1 << kcb}>;
var<workgroup> tabV: array<vec2f, ${1 << vcb}>;
${
  h16
    ? `var<workgroup> qs16: array<${G4 ? 'vec4u' : 'u32'}, ${(D / 2) * NU}>;
var<workgroup> qmx: atomic<u32>;
var<workgroup> tabK16: array<u32, ${1 << kcb}>;
var<workgroup> tabV16: array<u32, ${1 << vcb}>;`
    : ''
}
var<workgroup> mred: array<f32, ${NSG * G * 2}>;
var<workgroup> racc: array<f32, ${NSG * G * D}>;
var<workgroup> nsg: atomic<u32>;
${sgEntryWgsl(D, G, SG)}
  // ---- prologue: the rotated query (scale and signs folded in), the grids -----------------------
  for (var i = li; i < ${D * G}u; i = i + ${WG}u) {
    let h = i / ${D}u; let d = i % ${D}u;
    qraw[d * ${G}u + h] = q[qb + h * ${D}u + d] * p.scale * aux[${aux.sk}u + d];
  }
  for (var i = li; i < ${1 << kcb}u; i = i + ${WG}u) { tabK[i] = vec2f(aux[${aux.tk}u + 2u * i], aux[${aux.tk}u + 2u * i + 1u]); }
  for (var i = li; i < ${1 << vcb}u; i = i + ${WG}u) { tabV[i] = vec2f(aux[${aux.tv}u + 2u * i], aux[${aux.tv}u + 2u * i + 1u]); }
  workgroupBarrier();
${queryFwhtWgsl(D, G, WG).join('\n')}
${queryUnitsWgsl(D, G, WG, false).join('\n')}
  workgroupBarrier();
${h16 ? f16Prologue : ''}  // ---- the subgroup's tiles -----------------------------------------------------------------------
${TG > 1 ? `  let vcg = lane % ${CG}u; let vtg = lane / ${CG}u;\n` : ''}  let vbit = ${vcg} * ${laneBits}u;${c.kpair ? `\n  let kodd = ((hk * ${kHeadWords}u) & 2u) != 0u;` : ''}
  let vho = hk * ${vHeadWords}u + (vbit >> 5u);
${c.vcoop ? `  let vwl = vbit >> 5u; let cvj = lane / ${W}u; let cvw = lane % ${W}u;` : ''}
${aligned ? '' : '  let vsh = vbit & 31u;'}
${U.map((u) => `  var m${u} = ${neg}; var l${u} = ${zero};`).join('\n')}
${range(VC)
  .map((ch) => U.map((u) => `  var acc${ch}_${u} = ${zero};`).join(' '))
  .join('\n')}
  var sink = 0u;${K0.map((l) => `\n${l.slice(2)}`).join('')}
  for (var tile = 0u; tile < p.tiles; tile = tile + 1u) {
    let sstart = (chunk * p.tiles + tile) * ${TT}u + sid * ${SGT}u;
    if (sstart >= p.N) { break; }
${L.join('\n')}
  }
${E.join('\n')}
  if (sink == 0x9e3779b9u) { part[0] = 1.0; }
}`;
}
