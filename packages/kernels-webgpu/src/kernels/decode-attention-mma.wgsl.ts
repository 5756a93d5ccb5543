/**
 * Fused decode attention over uniform-quantized K/V on **int8 subgroup matrices** (Dawn's
 * `chromium-experimental-subgroup-matrix`, Vulkan cooperative matrices: tensor cores on NVIDIA).
 *
 * One workgroup is one subgroup of 32 invocations and takes (batch, kv head, chunk of `tiles`
 * tiles of 32 tokens). Both products run on i8 × i8 → i32 matrices of 16 × N × 32:
 * - **keys** (channel-axis groups): the codes are the left matrix as they are (bytes 0..2^bits−1;
 *   expanded from the packed words with one shift and one mask per 4 codes, which permutes the
 *   channels inside a word: the query rows use the same permutation). The right matrix is the
 *   query with the group's scales folded in, `q·scale`, per head in **two int8 parts** (`hi·256 +
 *   lo`, 16-bit fixed point against the head's largest |q·scale|); `Σ q·min` is added per head.
 * - **values** (token-axis groups): the codes, transposed to channel rows of 32 tokens (a 4 × 4
 *   byte transpose per 4 tokens), are the left matrix; the right matrix is the softmax weight with
 *   the token's scale folded in, `p·scale/σ` (σ: the tile's largest |scale| of the group), again
 *   in two int8 parts; `Σ p·min` is kept per head and group.
 * - The online softmax runs one token per invocation on the i32 scores (subgroupMax/Add, no
 *   workgroup reductions); accumulators live in registers, 32 channel rows apart per invocation.
 * Partials are written in the layout of the other fused kernels (max, sum, acc[D]) and merged by
 * `decodeAttentionReduceWgsl`.
 *
 * Precision: the query and the softmax weights are 16-bit fixed point (relative step 1/32512 of
 * the largest element per head and tile); codes and integer sums are exact.
 */
import type { GpuI8MatrixShape } from '../context.js';
import { SPLIT_ATTENTION_BINDINGS } from './decode-attention-tp.wgsl.js';
import type { KvTileFormat } from './decode-attention.wgsl.js';

/** Invocations per workgroup (= one subgroup; the kernel needs subgroups of exactly 32). */
export const MMA_THREADS = 32;
/** Tokens per tile. */
export const MMA_TILE = 32;
/** Fixed-point range of the two-part int8 operands: |x| ≤ 127·256. */
const FIX = 32512;

/** Uniform tile format (the only kind this kernel reads). */
type UniformTile = Extract<KvTileFormat, { kind: 'uniform' }>;

/** Compile-time configuration of the subgroup-matrix kernel. */
export interface MmaAttentionConfig {
  readonly headDim: number;
  /** query heads per kv head */
  readonly group: number;
  readonly keys: UniformTile;
  readonly values: UniformTile;
  /** kvHeads × headDim */
  readonly channels: number;
  /** columns of the matrices (8 or 16): 2 · group, rounded up to a supported N */
  readonly n: number;
  /**
   * Benchmark probes (wrong results on purpose): 1 = no matrix operations, 2 = score products
   * only, 3 = value products only, 4 = the query matrices loaded every tile, 5 = no barriers,
   * 6 = like 1 and without the subgroup-matrix extension enabled, 7 = like 1 without expanding
   * or storing the codes, 8 = like 1 without loading the codes
   */
  readonly probe?: number;
  /** load the next tile's code words, value scales and mins while this one is computed */
  readonly prefetch?: boolean;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Columns for `group` query heads (two int8 parts each) among the device's i8 shapes, or null. */
export function mmaColumns(group: number, shapes: readonly GpuI8MatrixShape[]): number | null {
  const ns = shapes
    .filter((s) => s.M === 16 && s.K === 32 && s.N >= 2 * group)
    .map((s) => s.N)
    .sort((a, b) => a - b);
  return ns[0] ?? null;
}

/** Why the subgroup-matrix kernel cannot read this K/V pair (or null when it can). */
export function mmaUnsupported(keys: KvTileFormat, values: KvTileFormat, headDim: number): string | null {
  if (headDim % 32 !== 0 || headDim > 256) return `headDim ${headDim} (needs a multiple of 32, ≤ 256)`;
  if (keys.kind !== 'uniform' || keys.axis !== 'channel') return 'keys are not uniform channel-axis codes';
  if (values.kind !== 'uniform' || values.axis !== 'token') return 'values are not uniform token-axis codes';
  for (const [what, f] of [
    ['key', keys],
    ['value', values],
  ] as const) {
    if (f.bits !== 1 && f.bits !== 2 && f.bits !== 4)
      return `${what} codes of ${f.bits} bits (needs 1, 2 or 4)`;
    if (((headDim * f.bits) / 32) % 4 !== 0)
      return `${what} rows of ${(headDim * f.bits) / 8} bytes per head`;
    if (f.blockTokens % MMA_TILE !== 0) return `${what} blocks of ${f.blockTokens} tokens`;
  }
  if (keys.groupSize % MMA_TILE !== 0 || keys.blockTokens % keys.groupSize !== 0)
    return `key groups of ${keys.groupSize} tokens (needs a multiple of ${MMA_TILE} dividing the block)`;
  if (values.groupSize % 32 !== 0 || headDim % values.groupSize !== 0)
    return `value groups of ${values.groupSize} channels (needs a multiple of 32 dividing headDim)`;
  return null;
}

/** Cache key of a configuration. */
export function mmaAttentionKey(c: MmaAttentionConfig): string {
  const f = (u: UniformTile) =>
    `u${u.bits}${u.axis[0]}${u.groupSize}b${u.blockTokens}w${u.blockWords}g${u.nGroups}`;
  return `dattn-mma:${c.headDim}:${c.group}:${f(c.keys)}:${f(c.values)}:${c.channels}:n${c.n}:p${c.probe ?? 0}${c.prefetch ? ':pf' : ''}`;
}

/** Workgroup memory layout (i32 words). */
export function mmaLayout(c: { headDim: number; n: number; values: UniformTile }): {
  kxRow: number;
  kx: number;
  vxRow: number;
  vxBlock: number;
  vx: number;
  qq: number;
  pq: number;
  sx: number;
  total: number;
} {
  const D = c.headDim;
  const kxRow = D / 4 + 4; // token rows of D bytes + 16 (ldmatrix-style loads without bank conflicts)
  const kx = Math.max(MMA_TILE * kxRow, D * c.n); // also holds the value results, column-major [n][D]
  const vxRow = MMA_TILE / 4 + 4; // channel rows of 32 token bytes + 16
  const vxBlock = 16 * vxRow + 4; // 16 channel rows, + 16 bytes so the transposed stores spread over banks
  const vx = (D / 16) * vxBlock;
  const qq = D * 4; // [D positions][16 bytes]
  const pq = (D / c.values.groupSize) * MMA_TILE * 4; // per value group [32 tokens][16 bytes]
  const sx = MMA_TILE * c.n;
  return { kxRow, kx, vxRow, vxBlock, vx, qq, pq, sx, total: kx + vx + qq + pq + sx };
}

/** Byte position in an expanded code row of channel `ch` (codes of `bits`): see the file comment. */
export function mmaCodePosition(ch: number, bits: number): number {
  const n = 32 / bits;
  const f = 8 / bits;
  const m = Math.floor(ch / n);
  const r = ch % n;
  return m * n + 4 * (r % f) + Math.floor(r / f);
}

/**
 * Bindings: 0 = params {N, Hkv, tiles, nChunks, scale, nBlocksK, nBlocksV}, 1 = q f32 [B, Hq, D],
 * 2 = keys (u32), 3 = values (u32), 4 = partials f32 [B, Hq, nChunks, D + 2]. Dispatch
 * (nChunks, Hkv, B).
 */
export function mmaAttentionWgsl(c: MmaAttentionConfig): string {
  const D = c.headDim;
  const G = c.group;
  const C = c.channels;
  const N = c.n;
  const kf = c.keys;
  const vf = c.values;
  const L = mmaLayout(c);
  const R = D / 32; // channel rows per invocation (li + 32 r)
  const H = range(G);
  const RR = range(R);
  const NVG = D / vf.groupSize;
  const bK = kf.bits;
  const bV = vf.bits;
  const WHK = (D * bK) / 32; // words per head row
  const WHV = (D * bV) / 32;
  const nK = 32 / bK;
  const fK = 8 / bK;
  const nV = 32 / bV;
  const fV = 8 / bV;
  const maskK = `0x${(0x01010101 * ((1 << bK) - 1)).toString(16)}u`;
  const maskV = `0x${(0x01010101 * ((1 << bV) - 1)).toString(16)}u`;
  const KS = D / 32; // k-steps of the score product
  const CT = D / 16; // channel tiles of the value product
  const left = 'subgroup_matrix_left<i8, 32, 16>';
  const right = `subgroup_matrix_right<i8, ${N}, 32>`;
  const result = `subgroup_matrix_result<i32, ${N}, 16>`;
  /** the N int8 columns of a row, packed into N/4 words: hi parts of the G heads, then lo parts */
  const packRow = (hi: (h: number) => string, lo: (h: number) => string): string[] => {
    const cols = [...H.map(hi), ...H.map(lo)];
    while (cols.length < N) cols.push('0');
    return range(N / 4).map(
      (w) => `bitcast<i32>(pack4xI8(vec4<i32>(${cols.slice(4 * w, 4 * w + 4).join(', ')})))`,
    );
  };
  const S: string[] = [];
  const e = (l: string) => S.push(l);
  const probe = c.probe ?? 0;
  /** probes without matrix products */
  const noMat = probe === 1 || probe >= 6;
  const prefetch = !!c.prefetch;
  /** lines before the tile loop */
  const pre: string[] = [];

  e('  let chunk = wid.x; let hk = wid.y; let b = wid.z;');
  e(`  let Hq = p.Hkv * ${G}u;`);
  if (probe === 7) e('  var sink = 0u;');
  e(`  let qb = (b * Hq + hk * ${G}u) * ${D}u;`);
  for (const r of RR) for (const h of H) e(`  let q${r}_${h} = q[qb + ${h * D + 32 * r}u + li] * p.scale;`);
  for (const h of H) e(`  var m${h} = NEG; var l${h} = 0.0; var kb${h} = 0.0; var sq${h} = 0.0;`);
  for (const r of RR) e(`  ${H.map((h) => `var acc${r}_${h} = 0.0;`).join(' ')}`);
  for (const g of range(NVG)) e(`  ${H.map((h) => `var vb${g}_${h} = 0.0;`).join(' ')}`);
  if (probe !== 6) for (const k of range(KS)) e(`  var qm${k}: ${right};`);
  e('  var kgroup = 0xffffffffu;');
  const loopAt = S.length;
  e('  for (var tile = 0u; tile < p.tiles; tile = tile + 1u) {');
  e(`    let tstart = (chunk * p.tiles + tile) * ${MMA_TILE}u;`);
  e('    if (tstart >= p.N) { break; }');
  e(probe === 5 ? '' : '    workgroupBarrier();');
  e(`    let kbase = (b * p.nBlocksK + tstart / ${kf.blockTokens}u) * ${kf.blockWords}u;`);
  e(`    let kti0 = tstart % ${kf.blockTokens}u;`);
  e('    let last = p.N - 1u - tstart;'); // last valid token of the tile, relative (may exceed 31)
  e(`    let newGroup = tstart / ${kf.groupSize}u != kgroup;`);
  e(`    kgroup = tstart / ${kf.groupSize}u;`);
  // ---- query fold for a new key group ----------------------------------------------------------
  e('    if (newGroup) {');
  e(`      let fg0 = 2u * kbase + (kti0 / ${kf.groupSize}u) * ${C}u + hk * ${D}u + li;`);
  for (const r of RR) {
    e(`      let ks${r} = half_k(fg0 + ${32 * r}u); let km${r} = half_k(fg0 + ${kf.nGroups + 32 * r}u);`);
  }
  for (const h of H) {
    e(`      kb${h} = subgroupAdd(${RR.map((r) => `q${r}_${h} * km${r}`).join(' + ')});`);
    for (const r of RR) e(`      let f${r}_${h} = q${r}_${h} * ks${r};`);
    e(
      `      let mx${h} = subgroupMax(${RR.map((r) => `abs(f${r}_${h})`).reduce((a, x) => `max(${a}, ${x})`)});`,
    );
    e(`      let inv${h} = ${FIX}.0 / max(mx${h}, 1e-30); sq${h} = max(mx${h}, 1e-30) / ${FIX}.0;`);
  }
  for (const r of RR) {
    e('      {');
    for (const h of H) e(`        let s${h} = split(f${r}_${h} * inv${h});`);
    e(`        let ch = li + ${32 * r}u;`);
    e(`        let row = (ch / ${nK}u) * ${nK}u + 4u * ((ch % ${nK}u) % ${fK}u) + (ch % ${nK}u) / ${fK}u;`);
    packRow(
      (h) => `s${h}.x`,
      (h) => `s${h}.y`,
    ).forEach((w, i) => e(`        qq[row * 4u + ${i}u] = ${w};`));
    e('      }');
  }
  e('    }');
  // ---- codes: 4 tokens × one word per task; keys expanded to token rows, values transposed ------
  const kTasks = range(WHK / 4);
  const vTasks = range(WHV / 4);
  const taskIds = (s: number, WH: number) =>
    `let task = li + ${32 * s}u; let m = task % ${WH}u; let qd = task / ${WH}u;`;
  // this tile's code words, value scales and mins are loaded into these (a tile ahead with `prefetch`)
  pre.push(
    ...kTasks.map((s) => `  var ckw${s}: vec4<u32>;`),
    ...vTasks.map((s) => `  var cvw${s}: vec4<u32>;`),
  );
  pre.push(...range(NVG).map((g) => `  var cvs${g} = 0.0; var cvm${g} = 0.0;`));
  const loads = (ts: string, pad: string) => {
    e(`${pad}{`);
    e(`${pad}  let lts = min(${ts}, ((p.N - 1u) / ${MMA_TILE}u) * ${MMA_TILE}u);`);
    e(
      `${pad}  let lkb = (b * p.nBlocksK + lts / ${kf.blockTokens}u) * ${kf.blockWords}u + ${kf.nGroups}u + hk * ${WHK}u;`,
    );
    e(`${pad}  let lvb = (b * p.nBlocksV + lts / ${vf.blockTokens}u) * ${vf.blockWords}u;`);
    e(
      `${pad}  let lkt = lts % ${kf.blockTokens}u; let lvt = lts % ${vf.blockTokens}u; let ll = p.N - 1u - lts;`,
    );
    for (const [side, tasksOf, WH, rowWords, buf, base, t0, hash] of [
      ['k', kTasks, WHK, (C * bK) / 32, 'kbuf', 'lkb', 'lkt', '2654435761u'],
      ['v', vTasks, WHV, (C * bV) / 32, 'vbuf', `lvb + ${vf.nGroups}u + hk * ${WHV}u`, 'lvt', '2246822519u'],
    ] as const) {
      for (const s of tasksOf) {
        e(`${pad}  { ${taskIds(s, WH)}`);
        const w = range(4).map((i) => {
          const t = `(${t0} + min(4u * qd + ${i}u, ll))`;
          return probe === 8 ? `(${t} + m) * ${hash}` : `${buf}[${base} + ${t} * ${rowWords}u + m]`;
        });
        e(`${pad}    c${side}w${s} = vec4<u32>(${w.join(', ')}); }`);
      }
    }
    e(`${pad}  let lg = 2u * lvb + (lvt + min(li, ll)) * ${C / vf.groupSize}u + hk * ${D / vf.groupSize}u;`);
    for (const g of range(NVG))
      e(`${pad}  cvs${g} = half_v(lg + ${g}u); cvm${g} = half_v(lg + ${vf.nGroups + g}u);`);
    e(`${pad}}`);
  };
  if (prefetch) {
    // the first tile's loads happen before the loop (see `pre`), each tile issues the next one's
    const saved = S.splice(0);
    loads(`chunk * p.tiles * ${MMA_TILE}u`, '  ');
    pre.push(...S.splice(0));
    S.push(...saved);
  } else {
    loads('tstart', '    ');
  }
  for (const s of kTasks) {
    e(`    { ${taskIds(s, WHK)}`);
    for (const i of range(4)) {
      const w = `ckw${s}[${i}]`;
      if (probe === 7) {
        e(`      sink = sink ^ ${w};`);
        continue;
      }
      e(`      let kr${i} = (4u * qd + ${i}u) * ${L.kxRow}u + m * ${nK / 4}u;`);
      // word k' = (k + qd) mod f: lanes of different qd store to different banks
      for (const k of range(fK))
        e(
          fK === 1
            ? `      kx[kr${i}] = bitcast<i32>(${w} & ${maskK});`
            : `      { let kk = (${k}u + qd) % ${fK}u; kx[kr${i} + kk] = bitcast<i32>((${w} >> (${bK}u * kk)) & ${maskK}); }`,
        );
    }
    e('    }');
  }
  for (const s of vTasks) {
    e(`    { ${taskIds(s, WHV)}`);
    // base of the task's channels m·n .. m·n + n − 1 in vx (n = 32/bits: 8, 16 or 32 channels)
    e(
      nV >= 16
        ? `      let vr = m * ${(nV / 16) * L.vxBlock}u + qd;`
        : `      let vr = (m >> 1u) * ${L.vxBlock}u + (m & 1u) * ${8 * L.vxRow}u + qd;`,
    );
    if (probe === 7) e(`      sink = sink ^ cvw${s}.x ^ cvw${s}.y ^ cvw${s}.z ^ cvw${s}.w;`);
    for (const k of range(probe === 7 ? 0 : fV)) {
      for (const i of range(4))
        e(
          `      let a${k}_${i} = ${k === 0 ? `cvw${s}[${i}]` : `(cvw${s}[${i}] >> ${bV * k}u)`} & ${maskV};`,
        );
      e(`      let b${k}_0 = (a${k}_0 & 0x00ff00ffu) | ((a${k}_1 & 0x00ff00ffu) << 8u);`);
      e(`      let b${k}_1 = ((a${k}_0 >> 8u) & 0x00ff00ffu) | (a${k}_1 & 0xff00ff00u);`);
      e(`      let b${k}_2 = (a${k}_2 & 0x00ff00ffu) | ((a${k}_3 & 0x00ff00ffu) << 8u);`);
      e(`      let b${k}_3 = ((a${k}_2 >> 8u) & 0x00ff00ffu) | (a${k}_3 & 0xff00ff00u);`);
      const outs = [
        `(b${k}_0 & 0xffffu) | (b${k}_2 << 16u)`,
        `(b${k}_1 & 0xffffu) | (b${k}_3 << 16u)`,
        `(b${k}_0 >> 16u) | (b${k}_2 & 0xffff0000u)`,
        `(b${k}_1 >> 16u) | (b${k}_3 & 0xffff0000u)`,
      ];
      for (const j of range(4)) {
        // channel m·n + c, c = j·f + k < n: its row in the 16-row blocks, from the task's base
        const c = j * fV + k;
        const off = nV >= 16 ? (c >> 4) * L.vxBlock + (c & 15) * L.vxRow : c * L.vxRow;
        e(`      vx[vr + ${off}u] = bitcast<i32>(${outs[j]});`);
      }
    }
    e('    }');
  }
  // value scales and mins of this invocation's token
  for (const g of range(NVG)) e(`    let vs${g} = cvs${g}; let vm${g} = cvm${g};`);
  if (prefetch) loads(`select(tstart, tstart + ${MMA_TILE}u, tile + 1u < p.tiles)`, '    ');
  e(probe === 5 ? '' : '    workgroupBarrier();');
  if (probe !== 6) {
    e(probe === 4 ? '    {' : '    if (newGroup) {');
    for (const k of range(KS))
      e(`      qm${k} = subgroupMatrixLoad<${right}>(&qq, ${512 * k}u, false, 16u);`);
    e('    }');
  }
  // ---- scores ----------------------------------------------------------------------------------
  for (const mt of range(noMat || probe === 3 ? 0 : 2)) {
    e('    {');
    e(`      var s = ${result}();`);
    for (const k of range(KS)) {
      e(
        `      s = subgroupMatrixMultiplyAccumulate(subgroupMatrixLoad<${left}>(&kx, ${mt * 16 * L.kxRow * 4 + 32 * k}u, false, ${L.kxRow * 4}u), qm${k}, s);`,
      );
    }
    // column-major (token fastest): each invocation then reads its token's columns without bank conflicts
    e(`      subgroupMatrixStore(&sx, ${mt * 16}u, s, true, ${MMA_TILE}u);`);
    e('    }');
  }
  e(probe === 5 ? '' : '    workgroupBarrier();');
  // ---- online softmax, one token per invocation ---------------------------------------------------
  e('    let valid = li <= last;');
  for (const h of H) {
    e(
      `    let sc${h} = select(NEG, fma(f32(sx[${h * MMA_TILE}u + li]), 256.0, f32(sx[${(G + h) * MMA_TILE}u + li])) * sq${h} + kb${h}, valid);`,
    );
    e(`    let mn${h} = max(m${h}, subgroupMax(sc${h}));`);
    e(`    let al${h} = exp(m${h} - mn${h}); m${h} = mn${h};`);
    e(`    let p${h} = select(0.0, exp(sc${h} - mn${h}), valid);`);
    e(`    l${h} = fma(l${h}, al${h}, p${h});`);
    for (const r of RR) e(`    acc${r}_${h} = acc${r}_${h} * al${h};`);
    for (const g of range(NVG)) e(`    vb${g}_${h} = fma(vb${g}_${h}, al${h}, p${h} * vm${g});`);
  }
  for (const g of range(NVG)) {
    e(`    let sg${g} = max(subgroupMax(abs(vs${g})), 1e-30);`);
    e(`    let wi${g} = vs${g} * (${FIX}.0 / sg${g});`);
    e('    {');
    for (const h of H) e(`      let w${h} = split(p${h} * wi${g});`);
    packRow(
      (h) => `w${h}.x`,
      (h) => `w${h}.y`,
    ).forEach((w, i) => e(`      pq[${g * MMA_TILE * 4}u + li * 4u + ${i}u] = ${w};`));
    e('    }');
  }
  e(probe === 5 ? '' : '    workgroupBarrier();');
  // ---- values ----------------------------------------------------------------------------------
  for (const g of range(noMat || probe === 2 ? 0 : NVG))
    e(`    let pm${g} = subgroupMatrixLoad<${right}>(&pq, ${g * MMA_TILE * 16}u, false, 16u);`);
  for (const ct of range(noMat || probe === 2 ? 0 : CT)) {
    const g = Math.floor((16 * ct) / vf.groupSize);
    e(
      `    subgroupMatrixStore(&kx, ${ct * 16}u, subgroupMatrixMultiply<i32>(subgroupMatrixLoad<${left}>(&vx, ${ct * L.vxBlock * 4}u, false, ${L.vxRow * 4}u), pm${g}), true, ${D}u);`,
    );
  }
  e(probe === 5 ? '' : '    workgroupBarrier();');
  for (const r of RR) {
    const g = Math.floor((32 * r) / vf.groupSize);
    e('    {');
    e(`      let o = li + ${32 * r}u;`);
    for (const h of H)
      e(
        `      acc${r}_${h} = fma(fma(f32(kx[o + ${h * D}u]), 256.0, f32(kx[o + ${(G + h) * D}u])), sg${g} * ${(1 / FIX).toPrecision(9)}, acc${r}_${h});`,
      );
    e('    }');
  }
  e('  }');
  // ---- partials --------------------------------------------------------------------------------
  for (const h of H) {
    e('  {');
    e(`    let L = subgroupAdd(l${h});`);
    for (const g of range(NVG)) e(`    let vbs${g} = subgroupAdd(vb${g}_${h});`);
    e(`    let o = ((b * Hq + hk * ${G}u + ${h}u) * p.nChunks + chunk) * ${D + 2}u;`);
    e(`    if (li == 0u) { part[o] = m${h}; part[o + 1u] = L; }`);
    for (const r of RR) {
      const g = Math.floor((32 * r) / vf.groupSize);
      e(`    part[o + ${2 + 32 * r}u + li] = acc${r}_${h} + vbs${g};`);
    }
    e('  }');
  }

  if (probe === 7) e('  if (sink == 0x9e3779b9u) { part[0] = 1.0; }');
  S.splice(loopAt, 0, ...pre);
  return `enable subgroups;
${probe === 6 ? '' : 'enable chromium_experimental_subgroup_matrix;'}
${SPLIT_ATTENTION_BINDINGS}
var<workgroup> kx: array<i32, ${L.kx}>;
var<workgroup> vx: array<i32, ${L.vx}>;
var<workgroup> qq: array<i32, ${L.qq}>;
var<workgroup> pq: array<i32, ${L.pq}>;
var<workgroup> sx: array<i32, ${L.sx}>;
fn half_k(i: u32) -> f32 { return unpack2x16float(kbuf[i >> 1u])[i & 1u]; }
fn half_v(i: u32) -> f32 { return unpack2x16float(vbuf[i >> 1u])[i & 1u]; }
// x (|x| ≤ ${FIX}) as hi·256 + lo with hi in [-127, 127], lo in [-128, 127]
fn split(x: f32) -> vec2<i32> {
  let v = i32(round(x));
  let hi = (v + 128) >> 8u;
  return vec2<i32>(hi, v - hi * 256);
}
@compute @workgroup_size(${MMA_THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
${S.join('\n')}
}`;
}
