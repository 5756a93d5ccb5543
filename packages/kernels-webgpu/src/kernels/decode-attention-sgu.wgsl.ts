/**
 * Subgroup-private fused decode attention over uniform (KIVI-style) K/V in packed f16
 * (`kernel: 'subgroup'` with channel-axis uniform keys and token-axis uniform values): the HIGGS
 * subgroup kernel's tile walk (`decode-attention-sg.wgsl.ts`) with the token-parallel kernel's
 * uniform arithmetic.
 *
 * One workgroup of {@link SG_SUBGROUPS} subgroups takes (batch, kv head, chunk of `tiles` tiles of
 * SUBGROUPS · SG · TPT tokens). Per tile:
 * - **fold**: each key group of the tile (a slot) gets its query weights `q·scale·2^bits` as packed f16
 *   pairs over a power of two above their largest magnitude, and its bias `Σ q·(min + (c − 1)·scale·2^bits)`
 *   (c: the codes' center), each slot from one subgroup (`subgroupMax`, `subgroupAdd`), into one of two
 *   workgroup buffers by tile parity; one workgroup barrier per tile, the only one in the loop;
 * - **keys**: each invocation takes TPT tokens (`tile + sid·SG·TPT + tp·SG + lane`), the whole head: code
 *   pairs become `vec2<f16>` (one shift, one mask) and cost one f16 FMA per query head against its slot's
 *   weights, summed in f16 over `kflush` pairs and then into the f32 score;
 * - **softmax**: per subgroup, as in the HIGGS subgroup kernel;
 * - **values**: value token groups of SG / TG invocations, each invocation owning VC = D·TG / SG channels
 *   (whole code words, or one half-word shared by two invocations, inside one value group) of every TG-th
 *   token; the weight p of each token comes from
 *   the invocation that scored it (`subgroupShuffle`, f32), times the token's value scale over a power of
 *   two above the batch's largest scale, in f16; the scale's offsets `p·min` go to a per-invocation f32 sum
 *   added to its channels after the loop.
 * The subgroups are merged once, after the loop (`sgMergeWgsl`), in the split partials layout.
 */
import {
  SG_F16_KFLUSH,
  SG_SUBGROUPS,
  sgEntryWgsl,
  sgFixedSizeUnsupported,
  sgMergeWgsl,
  sgSoftmaxWgsl,
  sgTileTokens,
} from './decode-attention-sg.wgsl.js';
import {
  SPLIT_ATTENTION_BINDINGS,
  TP_F16_BITS,
  f16AccFlush,
  f16Center,
  f16Pair,
  f16PairChannels,
  f16ScoreFlush,
} from './decode-attention-tp.wgsl.js';
import type { KvTileFormat } from './decode-attention.wgsl.js';

/** A uniform tile format. */
export type UniformTileFormat = Extract<KvTileFormat, { kind: 'uniform' }>;

/** Compile-time configuration of the subgroup kernel over uniform K/V. */
export interface SguAttentionConfig {
  readonly headDim: number;
  /** query heads per kv head */
  readonly group: number;
  /** channel-axis uniform keys */
  readonly keys: UniformTileFormat;
  /** token-axis uniform values */
  readonly values: UniformTileFormat;
  /** kvHeads × headDim */
  readonly channels: number;
  /** the device's subgroup size (one fixed size; checked again on the GPU) */
  readonly subgroupSize: number;
  /** tokens per invocation in a tile (1 or 2) */
  readonly tpt: number;
  /** value token groups TG (see {@link sguValueGroups}) */
  readonly vgroups: number;
  /** value tokens per batch (their loads issued together, one f16 flush each; divides SG / TG) */
  readonly vbatch: number;
  /** key head rows read as vec4<u32> (binding 5; 16-byte aligned rows) */
  readonly kvec: boolean;
  /** code pairs per f16 partial score (divides headDim / 2; default {@link SG_F16_KFLUSH}) */
  readonly kflush?: number;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Why the subgroup kernel cannot read this uniform K/V pair on this device (or null when it can); `tpt`
 * and `vgroups` are checked where given.
 */
export function sguUnsupported(
  keys: KvTileFormat,
  values: KvTileFormat,
  headDim: number,
  subgroupSizes: readonly [number, number] | null,
  opts: { readonly tpt?: number; readonly vgroups?: number; readonly channels?: number } = {},
): string | null {
  if (keys.kind !== 'uniform' || keys.axis !== 'channel') return 'keys other than channel-axis uniform codes';
  if (values.kind !== 'uniform' || values.axis !== 'token')
    return 'values other than token-axis uniform codes';
  if (!TP_F16_BITS.includes(keys.bits)) return `${keys.bits}-bit keys (packed f16 reads 1, 2, 4 or 8 bits)`;
  if (!TP_F16_BITS.includes(values.bits))
    return `${values.bits}-bit values (packed f16 reads 1, 2, 4 or 8 bits)`;
  if (headDim % 64 !== 0 || headDim > 256) return `headDim ${headDim}`;
  const whySize = sgFixedSizeUnsupported(subgroupSizes);
  if (whySize) return whySize;
  const SG = subgroupSizes![0];
  const gk = keys.groupSize;
  if (keys.blockTokens % gk !== 0) return `key groups of ${gk} do not divide blocks of ${keys.blockTokens}`;
  if (opts.tpt !== undefined) {
    const TT = sgTileTokens(SG, opts.tpt);
    if (TT % gk !== 0 && gk % TT !== 0) return `key groups of ${gk} vs tiles of ${TT} tokens`;
  }
  if (opts.channels !== undefined && opts.channels % values.groupSize !== 0)
    return `value groups of ${values.groupSize} vs ${opts.channels} channels per token`;
  const TG = opts.vgroups ?? sguValueGroups(values, headDim, SG);
  if (TG === null) return `${values.bits}-bit value groups of ${values.groupSize} with subgroups of ${SG}`;
  const why = sguValueGroupsUnsupported(values, headDim, SG, TG);
  return why;
}

/** Why value token groups of `TG` cannot read these values (null when they can). */
export function sguValueGroupsUnsupported(
  values: UniformTileFormat,
  headDim: number,
  subgroupSize: number,
  TG: number,
): string | null {
  if (!Number.isInteger(TG) || TG < 1 || (TG & (TG - 1)) !== 0 || subgroupSize % TG !== 0)
    return `${TG} value token groups (a power of two dividing the subgroup size ${subgroupSize})`;
  const { channels: VC, halfWord } = sguValueSlice(headDim, subgroupSize, TG, values.bits);
  if (!Number.isInteger(VC) || VC < 2) return `${TG} value token groups with headDim ${headDim}`;
  if ((VC * values.bits) % 32 !== 0 && !halfWord)
    return `${TG} value token groups: ${VC} channels of ${values.bits} bits per invocation are neither whole words nor one half-word`;
  if (values.groupSize % VC !== 0)
    return `${TG} value token groups: ${VC} channels per invocation vs value groups of ${values.groupSize}`;
  return null;
}

/**
 * What one invocation of the value phase reads with `TG` value token groups: `channels` (headDim·TG /
 * subgroupSize) channels of `bits` bits each, as `words` whole code words or, where they fill 16 bits,
 * one half-word (`halfWord`, words 1). Valid where {@link sguValueGroupsUnsupported} says so.
 */
export function sguValueSlice(
  headDim: number,
  subgroupSize: number,
  TG: number,
  bits: number,
): { channels: number; halfWord: boolean; words: number } {
  const channels = (headDim * TG) / subgroupSize;
  const halfWord = channels * bits === 16;
  return { channels, halfWord, words: halfWord ? 1 : (channels * bits) / 32 };
}

/**
 * The fewest value token groups whose channels per invocation are whole code words in one value group
 * (null: none). Half-word invocations (half as many groups, half the value registers) are read only where
 * `tuning.sgVgroups` asks for them.
 */
export function sguValueGroups(
  values: UniformTileFormat,
  headDim: number,
  subgroupSize: number,
): number | null {
  for (let TG = 1; TG <= subgroupSize; TG *= 2)
    if (
      sguValueGroupsUnsupported(values, headDim, subgroupSize, TG) === null &&
      !sguValueSlice(headDim, subgroupSize, TG, values.bits).halfWord
    )
      return TG;
  return null;
}

/** Cache key of a configuration. */
export function sguAttentionKey(c: SguAttentionConfig): string {
  const f = (x: UniformTileFormat) =>
    `u${x.bits}${x.axis[0]}${x.groupSize}b${x.blockTokens}w${x.blockWords}g${x.nGroups}`;
  return `dattn-sgu:${c.headDim}:${c.group}:${f(c.keys)}:${f(c.values)}:${c.channels}:s${c.subgroupSize}:t${c.tpt}:g${c.vgroups}:b${c.vbatch}:${c.kvec ? 'v' : 's'}:kf${c.kflush ?? SG_F16_KFLUSH}`;
}

/** Key slots (key groups, or one slot for groups longer than a tile) of a tile, and the tokens of one. */
function slots(c: Pick<SguAttentionConfig, 'keys' | 'subgroupSize' | 'tpt'>): { n: number; tokens: number } {
  const TT = sgTileTokens(c.subgroupSize, c.tpt);
  const gk = c.keys.groupSize;
  return gk >= TT ? { n: 1, tokens: TT } : { n: TT / gk, tokens: gk };
}

/** Workgroup memory of the kernel (bytes). */
export function sguSharedBytes(
  c: Pick<SguAttentionConfig, 'headDim' | 'group' | 'keys' | 'subgroupSize' | 'tpt'>,
): number {
  const D = c.headDim;
  const G = c.group;
  const NKG = slots(c).n;
  // the query, two parities of folded f16 pairs, biases and scales, then the subgroups' partial results
  return 4 * (D * G + 2 * NKG * (D / 2) * G + 2 * NKG * G + 2 * NKG + SG_SUBGROUPS * G * (D + 2) + 1);
}

/**
 * Bindings as the token-parallel kernel: 0 = params {N, Hkv, tiles, nChunks, scale, nBlocksK,
 * nBlocksV}, 1 = q f32 [B, Hq, D], 2 = keys (u32), 3 = values (u32), 4 = partials f32
 * [B, Hq, nChunks, D + 2], 5 = keys as vec4<u32>, 6 = aux f32 (unused here; bound like the other split
 * kernels). Dispatch (nChunks, Hkv, B); the partials are merged by `decodeAttentionReduceWgsl`.
 */
export function sguAttentionWgsl(c: SguAttentionConfig): string {
  const D = c.headDim;
  const G = c.group;
  const C = c.channels;
  const SG = c.subgroupSize;
  const TPT = c.tpt;
  const NSG = SG_SUBGROUPS;
  const WG = NSG * SG;
  const SGT = SG * TPT;
  const TT = WG * TPT;
  const kf = c.keys;
  const vf = c.values;
  const why = sguUnsupported(kf, vf, D, [SG, SG], { tpt: TPT, vgroups: c.vgroups, channels: C });
  if (why) throw new Error(`sguAttentionWgsl: ${why}`);
  if (TPT !== 1 && TPT !== 2) throw new Error(`sguAttentionWgsl: tpt ${TPT}`);
  const TG = c.vgroups;
  const CG = SG / TG;
  const VB = c.vbatch;
  if (!Number.isInteger(VB) || VB < 1 || CG % VB !== 0)
    throw new Error(`sguAttentionWgsl: vbatch ${VB} does not divide ${CG} tokens per value group`);
  const NP = D / 2;
  const KF = c.kflush ?? SG_F16_KFLUSH;
  if (!Number.isInteger(KF) || KF < 1 || NP % KF !== 0)
    throw new Error(`sguAttentionWgsl: ${NP} key pairs vs flushes of ${KF}`);
  const G4 = G % 4 === 0;
  const NU = G4 ? G / 4 : G;
  const U = range(NU);
  const unit = G4 ? 'vec4f' : 'f32';
  const zero = G4 ? 'vec4f(0.0)' : '0.0';
  const neg = G4 ? 'vec4f(NEG)' : 'NEG';
  const comp = (v: string, h: number) => (G4 ? `${v}${h >> 2}[${h & 3}]` : `${v}${h}`);
  const { n: NKG, tokens: slotTokens } = slots(c);
  const kb = kf.bits;
  const vb = vf.bits;
  const kHalf = 16 / kb;
  const vHalf = 16 / vb;
  const kHeadWords = (D * kb) / 32;
  const kRowWords = (C * kb) / 32;
  const vRowWords = (C * vb) / 32;
  // one half-word per invocation (vHalfWord): its word shifted by vhs, the two bytes spread over the f16 halves
  const { channels: VC, halfWord: vHalfWord, words: NWV } = sguValueSlice(D, SG, TG, vb);
  const vcg = TG > 1 ? 'vcg' : 'lane';
  if (c.kvec && kHeadWords % 4 !== 0)
    throw new Error(`sguAttentionWgsl: kvec with ${kHeadWords}-word head rows`);
  const nKv = c.kvec ? kHeadWords / 4 : kHeadWords;
  // f32 constants: 2^bits and (center − 1) of the centered f16 codes
  const k2b = (2 ** kb).toFixed(1);
  const v2b = (2 ** vb).toFixed(1);
  const kc1 = (f16Center(kb) - 1).toString();
  const vc1 = (f16Center(vb) - 1).toString();

  // ---- fold: the tile's key slots, slot sl by subgroup sl % NSG -----------------------------------
  // One barrier per tile is enough with two buffers: tile i writes buffer i % 2 and its barrier makes the
  // writes visible before any read of tile i; tile i + 2 writes buffer i % 2 again only after the barrier
  // of tile i + 1, which every subgroup reaches after its last read of tile i.
  const F: string[] = [];
  const FR = Math.ceil(NP / SG);
  F.push(`    for (var sl = sid; sl < ${NKG}u; sl = sl + ${NSG}u) {`);
  F.push(`      let ft = min(tstart + sl * ${slotTokens}u, p.N - 1u);`);
  F.push(`      let fbase = 2u * (b * p.nBlocksK + ft / ${kf.blockTokens}u) * ${kf.blockWords}u;`);
  F.push(`      let fg = fbase + ((ft % ${kf.blockTokens}u) / ${kf.groupSize}u) * ${C}u + hk * ${D}u;`);
  F.push('      var fm = 0.0;');
  for (const u of U) F.push(`      var fb${u} = ${zero};`);
  for (const r of range(FR)) {
    const full = (r + 1) * SG <= NP;
    // pair pr (channels da, db as f16Pair lays them out) of this invocation
    F.push(`      let pr${r} = ${full ? `lane + ${r * SG}u` : `min(lane + ${r * SG}u, ${NP - 1}u)`};`);
    if (!full) F.push(`      let ok${r} = lane + ${r * SG}u < ${NP}u;`);
    F.push(
      `      let da${r} = (pr${r} / ${kHalf}u) * ${2 * kHalf}u + pr${r} % ${kHalf}u; let db${r} = da${r} + ${kHalf}u;`,
    );
    F.push(`      let fsa${r} = half_k(fg + da${r}) * ${k2b}; let fsb${r} = half_k(fg + db${r}) * ${k2b};`);
    F.push(
      `      let fma${r} = half_k(fg + ${kf.nGroups}u + da${r}) + ${kc1} * fsa${r}; let fmb${r} = half_k(fg + ${kf.nGroups}u + db${r}) + ${kc1} * fsb${r};`,
    );
    for (const u of U) {
      const qa = G4
        ? `vec4f(${range(4)
            .map((k) => `qraw[da${r} * ${G}u + ${4 * u + k}u]`)
            .join(', ')})`
        : `qraw[da${r} * ${G}u + ${u}u]`;
      const qb = qa.replaceAll(`da${r}`, `db${r}`);
      F.push(`      let fqa${r}_${u} = ${qa}; let fqb${r}_${u} = ${qb};`);
      F.push(`      let fwa${r}_${u} = fqa${r}_${u} * fsa${r}; let fwb${r}_${u} = fqb${r}_${u} * fsb${r};`);
      const bias = `fma(fqa${r}_${u}, ${unit}(fma${r}), fqb${r}_${u} * fmb${r})`;
      F.push(
        full
          ? `      fb${u} = fb${u} + ${bias};`
          : `      fb${u} = fb${u} + select(${zero}, ${bias}, ok${r});`,
      );
      const mx = G4
        ? `max(max(max(abs(fwa${r}_${u}.x), abs(fwa${r}_${u}.y)), max(abs(fwa${r}_${u}.z), abs(fwa${r}_${u}.w))), max(max(abs(fwb${r}_${u}.x), abs(fwb${r}_${u}.y)), max(abs(fwb${r}_${u}.z), abs(fwb${r}_${u}.w))))`
        : `max(abs(fwa${r}_${u}), abs(fwb${r}_${u}))`;
      F.push(`      fm = max(fm, ${mx});`);
    }
  }
  // the slot's power of two above its largest weight; its packed pairs, bias and scale
  F.push('      let fe = frexp(subgroupMax(fm)).exp; let finv = ldexp(1.0, -fe);');
  F.push(`      let fo = (par * ${NKG}u + sl) * ${NP}u;`);
  for (const r of range(FR)) {
    const full = (r + 1) * SG <= NP;
    for (const u of U) {
      const packed = G4
        ? `vec4u(${range(4)
            .map((k) => `pack2x16float(vec2f(fwa${r}_${u}[${k}], fwb${r}_${u}[${k}]) * finv)`)
            .join(', ')})`
        : `pack2x16float(vec2f(fwa${r}_${u}, fwb${r}_${u}) * finv)`;
      const st = `qs16[(fo + pr${r}) * ${NU}u + ${u}u] = ${packed};`;
      F.push(full ? `      ${st}` : `      if (ok${r}) { ${st} }`);
    }
  }
  for (const u of U) F.push(`      let fbs${u} = subgroupAdd(fb${u});`);
  F.push('      if (lane == 0u) {');
  for (const u of U) F.push(`        kbias[(par * ${NKG}u + sl) * ${NU}u + ${u}u] = fbs${u};`);
  F.push(`        kqsc[par * ${NKG}u + sl] = ldexp(1.0, fe);`);
  F.push('      }');
  F.push('    }');
  F.push('    workgroupBarrier();');

  // ---- keys: TPT tokens per invocation ---------------------------------------------------------
  const L: string[] = [];
  L.push(`    let sstart = tstart + sid * ${SGT}u;`);
  // slots of whole subgroup tiles: every token of the subgroup's tile reads the same folded weights
  const oneSlot = slotTokens % SGT === 0;
  if (oneSlot)
    L.push(NKG > 1 ? `    let ks = par * ${NKG}u + (sid * ${SGT}u) / ${slotTokens}u;` : '    let ks = par;');
  for (const tp of range(TPT)) {
    L.push(`    let t${tp} = sstart + ${tp * SG}u + lane;`);
    L.push(`    let kt${tp} = min(t${tp}, p.N - 1u);`);
    L.push(
      `    let kcw${tp} = (b * p.nBlocksK + kt${tp} / ${kf.blockTokens}u) * ${kf.blockWords}u + ${kf.nGroups}u + (kt${tp} % ${kf.blockTokens}u) * ${kRowWords}u + hk * ${kHeadWords}u;`,
    );
    for (const v of range(nKv))
      L.push(
        c.kvec
          ? `    let kv${tp}_${v} = k4[kcw${tp} / 4u + ${v}u];`
          : `    let kw${tp}_${v} = kbuf[kcw${tp} + ${v}u];`,
      );
    if (c.kvec)
      for (const wi of range(kHeadWords)) L.push(`    let kw${tp}_${wi} = kv${tp}_${wi >> 2}[${wi & 3}];`);
    // the token's slot in this parity's buffers (one for the subgroup's tile where slots hold whole subgroup tiles)
    L.push(
      oneSlot
        ? `    let ks${tp} = ks;`
        : `    let ks${tp} = par * ${NKG}u + (sid * ${SGT}u + ${tp * SG}u + lane) / ${slotTokens}u;`,
    );
    for (const u of U) L.push(`    var sa${tp}_${u} = kbias[ks${tp} * ${NU}u + ${u}u];`);
    L.push(`    let kqs${tp} = kqsc[ks${tp}];`);
  }
  for (let p0 = 0; p0 < NP; p0 += KF) {
    for (let j = p0; j < p0 + KF; j++) {
      for (const tp of range(TPT)) {
        L.push(`    let kx${tp}_${j} = ${f16Pair(`kw${tp}_${Math.floor(j / kHalf)}`, j % kHalf, kb, true)};`);
        const kq = oneSlot ? `kq${j}_` : `kq${tp}_${j}_`;
        if (!oneSlot || tp === 0)
          for (const u of U) L.push(`    let ${kq}${u} = qs16[(ks${tp} * ${NP}u + ${j}u) * ${NU}u + ${u}u];`);
        for (let h = 0; h < G; h++) {
          const q = `bitcast<vec2<f16>>(${G4 ? `${kq}${h >> 2}[${h & 3}]` : `${kq}${h}`})`;
          L.push(
            j === p0
              ? `    var ha${tp}_${h} = kx${tp}_${j} * ${q};`
              : `    ha${tp}_${h} = fma(kx${tp}_${j}, ${q}, ha${tp}_${h});`,
          );
        }
      }
    }
    L.push(
      ...f16ScoreFlush(
        TPT,
        G,
        (tp, h) => `ha${tp}_${h}`,
        (tp) => `kqs${tp}`,
      ),
    );
    if (p0 + KF < NP) L.push('    {');
  }
  for (let p0 = KF; p0 < NP; p0 += KF) L.push('    }');

  // ---- softmax ---------------------------------------------------------------------------------
  for (const tp of range(TPT))
    for (const u of U) L.push(`    sa${tp}_${u} = select(sa${tp}_${u}, ${neg}, t${tp} >= p.N);`);
  L.push(
    ...sgSoftmaxWgsl(TPT, NU, (u) => [
      ...range(VC).map((ch) => `    acc${ch}_${u} = acc${ch}_${u} * al${u};`),
      `    vbs${u} = vbs${u} * al${u};`,
    ]),
  );

  // ---- values: VC channels of every TG-th token of the subgroup's SG ---------------------------
  // half-word: pair j is codes j and j + VC/2 of the half-word (its first byte in the low f16, the second
  // in the high one)
  const pairs = vHalfWord
    ? range(VC / 2).map((j) => ({ id: `0_${j}`, w: 0, j, lo: j, hi: j + VC / 2 }))
    : range(NWV).flatMap((w) =>
        range(vHalf).map((j) => {
          const [lo, hi] = f16PairChannels(w * vHalf + j, vb);
          return { id: `${w}_${j}`, w, j, lo, hi };
        }),
      );
  for (const tp of range(TPT)) {
    L.push(`    for (var i0 = 0u; i0 < ${CG}u; i0 = i0 + ${VB}u) {`);
    const tok = (i: number) => (TG > 1 ? `(i0 + ${i}u) * ${TG}u + vtg` : `i0 + ${i}u`);
    for (const i of range(VB)) {
      L.push(`      let vt${i} = min(sstart + ${tp * SG}u + ${tok(i)}, p.N - 1u);`);
      L.push(`      let vbase${i} = (b * p.nBlocksV + vt${i} / ${vf.blockTokens}u) * ${vf.blockWords}u;`);
      L.push(`      let vti${i} = vt${i} % ${vf.blockTokens}u;`);
      L.push(`      let vw${i} = vbase${i} + ${vf.nGroups}u + vti${i} * ${vRowWords}u + vwo;`);
      for (const k of range(NWV)) L.push(`      let va${i}_${k} = vbuf[vw${i} + ${k}u];`);
      if (vHalfWord)
        L.push(
          `      let vz${i} = va${i}_0 >> vhs; let vy${i} = (vz${i} & 0xffu) | ((vz${i} << 8u) & 0xff0000u);`,
        );
      L.push(`      let vg${i} = 2u * vbase${i} + vti${i} * ${C / vf.groupSize}u + vgo;`);
      L.push(
        `      let vs${i} = half_v(vg${i}) * ${v2b}; let vm${i} = half_v(vg${i} + ${vf.nGroups}u) + ${vc1} * vs${i};`,
      );
    }
    // the batch's power of two above its largest value scale
    const mx = range(VB).reduce((e, i) => (e ? `max(${e}, abs(vs${i}))` : `abs(vs${i})`), '');
    L.push(`      let vex = frexp(${mx}).exp;`);
    L.push('      let vinv = ldexp(1.0, -vex); let vscb = ldexp(1.0, vex);');
    for (const { id } of pairs) for (let h = 0; h < G; h++) L.push(`      var ah${id}_${h} = vec2<f16>();`);
    for (const i of range(VB)) {
      for (const u of U) {
        L.push(`      let ww${i}_${u} = subgroupShuffle(e${tp}_${u}, ${tok(i)});`);
        L.push(`      vbs${u} = fma(ww${i}_${u}, ${unit}(vm${i}), vbs${u});`);
        L.push(
          G4
            ? `      let wh${i}_${u} = vec4<f16>(ww${i}_${u} * (vs${i} * vinv));`
            : `      let wh${i}_${u} = f16(ww${i}_${u} * (vs${i} * vinv));`,
        );
      }
      for (const { id, w, j } of pairs) {
        L.push(`      let vx${i}_${id} = ${f16Pair(vHalfWord ? `vy${i}` : `va${i}_${w}`, j, vb, true)};`);
        for (let h = 0; h < G; h++)
          L.push(`      ah${id}_${h} = fma(vx${i}_${id}, vec2<f16>(${comp(`wh${i}_`, h)}), ah${id}_${h});`);
      }
    }
    L.push(...f16AccFlush(pairs, G, '      '));
    L.push('    }');
  }

  // ---- epilogue: the offsets' sums into every channel, then the merge -----------------------------
  const E: string[] = [];
  for (const ch of range(VC)) for (const u of U) E.push(`  acc${ch}_${u} = acc${ch}_${u} + vbs${u};`);
  E.push(...sgMergeWgsl({ headDim: D, group: G, subgroupSize: SG, vgroups: TG }));

  return `enable f16;
enable subgroups;
diagnostic(off, subgroup_uniformity);
${SPLIT_ATTENTION_BINDINGS}
@group(0) @binding(5) var<storage, read> k4: array<vec4u>;
@group(0) @binding(6) var<storage, read> aux: array<f32>;
const SGN = ${SG}u;
var<workgroup> qraw: array<f32, ${D * G}>;
var<workgroup> qs16: array<${G4 ? 'vec4u' : 'u32'}, ${2 * NKG * NP * NU}>;
var<workgroup> kbias: array<${unit}, ${2 * NKG * NU}>;
var<workgroup> kqsc: array<f32, ${2 * NKG}>;
var<workgroup> mred: array<f32, ${NSG * G * 2}>;
var<workgroup> racc: array<f32, ${NSG * G * D}>;
var<workgroup> nsg: atomic<u32>;
${sgEntryWgsl(D, G, SG)}
  // ---- prologue: the query times the softmax scale, [d][h] ---------------------------------------
  for (var i = li; i < ${D * G}u; i = i + ${WG}u) {
    let h = i / ${D}u; let d = i % ${D}u;
    qraw[d * ${G}u + h] = q[qb + h * ${D}u + d] * p.scale;
  }
  workgroupBarrier();
${TG > 1 ? `  let vcg = lane % ${CG}u; let vtg = lane / ${CG}u;\n` : ''}  // this invocation's value code words and value group within a token row
  let vwo = (hk * ${D}u + ${vcg} * ${VC}u) * ${vb}u / 32u;
  let vgo = (hk * ${D}u + ${vcg} * ${VC}u) / ${vf.groupSize}u;
${
  vHalfWord
    ? `  let vhs = (${vcg} * ${VC * vb}u) & 31u;
`
    : ''
}${U.map((u) => `  var m${u} = ${neg}; var l${u} = ${zero}; var vbs${u} = ${zero};`).join('\n')}
${range(VC)
  .map((ch) => U.map((u) => `  var acc${ch}_${u} = ${zero};`).join(' '))
  .join('\n')}
  // the tile loop is the workgroup's (a barrier per tile); a subgroup past the end scores masked tokens
  for (var tile = 0u; tile < p.tiles; tile = tile + 1u) {
    let tstart = (chunk * p.tiles + tile) * ${TT}u;
    if (tstart >= p.N) { break; }
    let par = tile & 1u;
${F.join('\n')}
${L.join('\n')}
  }
${E.join('\n')}
}`;
}
