import { type AquaAdapters, InvalidArgumentError, fwht, ropePairs } from '@kvq/core';
import { requireCuda } from './context.js';
import { decodeArgs } from './decode-args.js';
import { DeviceBuffer } from './device-buffer.js';
import { cuda } from './errors.js';
import { higgsPairCodeBits, higgsSigns } from './higgs-pages.js';
import { type DecodeAttentionArgs, type PagedKVPool, partialBytes } from './paged.js';

/** Head dimension of the value-chain kernel. */
const D = 128;
/** Value layers one kernel reads: the layer's own and up to 3 earlier ones. */
export const VALUE_CHAIN_MAX_LAYERS = 4;

/**
 * A per-KV-head linear value predictor of one layer l, from layer l − 1's values only:
 * `V_l[h] ≈ V_{l−1}[h] · weight[h] + bias[h]` for each KV head h (row vectors of 128 channels).
 */
export interface ValuePredictorBlocks {
  /** fp32 `[kvHeads, 128, 128]`: `weight[h][d][e]` maps input channel d to output channel e */
  readonly weight: Float32Array;
  /** fp32 `[kvHeads, 128]` */
  readonly bias: Float32Array;
}

/**
 * The value predictors of a chain folded for {@link decodeAttentionValueChain}: with predictors
 * `V_j = V_{j−1}·W_j + b_j + R_j` down to an anchor layer a (`V_a = R_a`, stored without prediction),
 * layer l's values are `Σ_j R_{l−j}·M_j + c` with `M_0 = I`, `M_j = W_{l−j+1}···W_l` and
 * `c = Σ_j b_{l−j}·M_j`, exactly. So the softmax-weighted mean of V_l is `Σ_j ŷ_j·M_j + c` over the
 * weighted means ŷ_j of the stored residuals: attention reads only the codes of the residuals, and
 * the maps run once per query head, after the softmax. `maps` also hold the rotation of HIGGS values
 * back from their Hadamard domain: `maps[j][h] = H·diag(signs)·M_j[h] / √128`.
 */
export interface FoldedValueChain {
  /** value layers: the layer's own, then one per predictor (2 to {@link VALUE_CHAIN_MAX_LAYERS}) */
  readonly layers: number;
  readonly kvHeads: number;
  /** fp32 `[layers, kvHeads, 128, 128]` */
  readonly maps: Float32Array;
  /** fp32 `[kvHeads, 128]` */
  readonly bias: Float32Array;
}

/** The layers of a chain of `n` predictors (2 to {@link VALUE_CHAIN_MAX_LAYERS}), or a typed error from `fn`. */
function chainLayers(fn: string, n: number, what: string): number {
  if (n < 1 || n + 1 > VALUE_CHAIN_MAX_LAYERS)
    throw new InvalidArgumentError(
      `${fn}: ${n} ${what}; the kernel folds 1 to ${VALUE_CHAIN_MAX_LAYERS - 1}`,
    );
  return n + 1;
}

/**
 * Folds the value predictors of layers l, l − 1, …, a + 1 (`predictors[0]` is layer l's own, which
 * predicts V_l from V_{l−1}) into the maps of {@link FoldedValueChain}, in float64, for values
 * stored as HIGGS blocks of one head with the Hadamard signs `valueSigns` (128, ±1).
 */
export function foldValueChain(
  predictors: readonly ValuePredictorBlocks[],
  kvHeads: number,
  valueSigns: Float32Array,
): FoldedValueChain {
  const layers = chainLayers('foldValueChain', predictors.length, 'predictors');
  if (!Number.isInteger(kvHeads) || kvHeads < 1)
    throw new InvalidArgumentError(`foldValueChain: kvHeads ${kvHeads}`);
  if (valueSigns.length !== D || valueSigns.some((s) => s !== 1 && s !== -1))
    throw new InvalidArgumentError('foldValueChain: valueSigns must be 128 values of ±1');
  predictors.forEach((p, i) => {
    if (p.weight.length !== kvHeads * D * D || p.bias.length !== kvHeads * D)
      throw new InvalidArgumentError(
        `foldValueChain: predictor ${i}: weight must be [${kvHeads}, 128, 128] and bias [${kvHeads}, 128] (got ${p.weight.length} and ${p.bias.length} values)`,
      );
    for (const x of p.weight)
      if (!Number.isFinite(x))
        throw new InvalidArgumentError(`foldValueChain: predictor ${i}: non-finite weight`);
    for (const x of p.bias)
      if (!Number.isFinite(x))
        throw new InvalidArgumentError(`foldValueChain: predictor ${i}: non-finite bias`);
  });
  const maps = new Float32Array(layers * kvHeads * D * D);
  const bias = new Float32Array(kvHeads * D);
  const col = new Float32Array(D);
  for (let h = 0; h < kvHeads; h++) {
    let M = new Float64Array(D * D); // M_0 = I
    for (let d = 0; d < D; d++) M[d * D + d] = 1;
    const c = new Float64Array(D);
    for (let j = 0; j < layers; j++) {
      if (j > 0) {
        // M_j = W_{l−j+1} · M_{j−1}: predictor j − 1 maps layer l − j into layer l − j + 1
        const W = predictors[j - 1]!.weight.subarray(h * D * D, (h + 1) * D * D);
        const next = new Float64Array(D * D);
        for (let d = 0; d < D; d++)
          for (let k = 0; k < D; k++) {
            const w = W[d * D + k]!;
            if (w === 0) continue;
            for (let e = 0; e < D; e++) next[d * D + e]! += w * M[k * D + e]!;
          }
        M = next;
      }
      // c += b_{l−j} · M_j (b of the predictor of layer l − j, for j < layers − 1; the anchor has none)
      if (j < layers - 1) {
        const b = predictors[j]!.bias.subarray(h * D, (h + 1) * D);
        for (let d = 0; d < D; d++) {
          const x = b[d]!;
          if (x !== 0) for (let e = 0; e < D; e++) c[e]! += x * M[d * D + e]!;
        }
      }
      // maps[j][h][:, e] = H · (signs ⊙ M_j[:, e]) / √D (core's orthonormal Walsh–Hadamard transform)
      const out = maps.subarray((j * kvHeads + h) * D * D, ((j * kvHeads + h) * D + D) * D);
      for (let e = 0; e < D; e++) {
        for (let d = 0; d < D; d++) col[d] = valueSigns[d]! * M[d * D + e]!;
        fwht(col);
        for (let d = 0; d < D; d++) out[d * D + e] = col[d]!;
      }
    }
    bias.set(c, h * D);
  }
  return { layers, kvHeads, maps, bias };
}

/**
 * A key predictor that commutes with RoPE, per KV head: `y[d] = a[h][d]·x[d] + b[h][d]·x[partner[d]]`
 * with `partner[d]` the channel RoPE rotates d with (d itself for unrotated channels, where b must be
 * 0). For a RoPE pair (re, im) it is multiplication by one complex scalar c:
 * a[re] = a[im] = Re c, b[re] = −Im c, b[im] = Im c (@kvq/calibrate's `keyPredictor: 'rope-diagonal'`).
 */
export interface RopeDiagonalKeyMap {
  /** fp32 `[kvHeads, 128]` */
  readonly a: Float32Array;
  /** fp32 `[kvHeads, 128]` */
  readonly b: Float32Array;
}

/**
 * Key predictors folded into the query for {@link decodeAttentionValueChain}: with
 * `K_j = W_j·K_{j−1} + R_j` (W_j RoPE-diagonal) down to the anchor, q·RoPE_t(K_l) =
 * Σ_j (M_jᵀq)·RoPE_t(R_{l−j}) with M_j = W_l···W_{l−j+1}, exactly, because every W_j commutes with RoPE.
 * `fold[j − 1][h][d] = (A, B)` gives (M_jᵀq)[d] = A·q[d] + B·q[partner[d]].
 */
export interface FoldedKeyChain {
  /** key layers: the layer's own and one per predictor (2 to {@link VALUE_CHAIN_MAX_LAYERS}) */
  readonly layers: number;
  readonly kvHeads: number;
  /** fp32 `[layers − 1, kvHeads, 128, 2]` */
  readonly fold: Float32Array;
  /** int32 `[128]` */
  readonly partner: Int32Array;
}

/**
 * Why a per-channel key map is not one complex scalar per RoPE pair (so does not commute with RoPE),
 * or null: non-finite coefficients, b ≠ 0 on an unrotated channel, a pair whose a differ or whose b
 * are not opposite.
 */
function notRopeDiagonal(m: RopeDiagonalKeyMap, partner: Int32Array): string | null {
  for (let x = 0; x < m.a.length; x++) {
    const d = x % D;
    const p = partner[d]!;
    if (!Number.isFinite(m.a[x]!) || !Number.isFinite(m.b[x]!)) return 'non-finite coefficient';
    if (p === d && m.b[x] !== 0) return `b ≠ 0 on unrotated channel ${d}`;
    const y = x - d + p;
    if (m.a[x] !== m.a[y] || m.b[x] !== -m.b[y])
      return `head ${Math.floor(x / D)}: channels ${d} and ${p} are not one complex scalar (a equal, b opposite): the map does not commute with RoPE`;
  }
  return null;
}

/**
 * The RoPE partner of each of 128 channels (`dims`: rotated channels, default all), `@kvq/core`'s
 * `ropePairs(128, { style, dims }).partner`. Throws InvalidArgumentError for an unknown style or a
 * `dims` that is not an even number up to 128.
 */
export function ropePartners(style: 'interleaved' | 'neox', dims = D): Int32Array {
  return ropePairs(D, { style, dims }).partner;
}

/**
 * Folds the RoPE-diagonal key predictors of layers l, l − 1, …, a + 1 (`maps[0]` is layer l's) into
 * the per-layer query folds of {@link FoldedKeyChain}, in float64.
 */
export function foldKeyChain(
  maps: readonly RopeDiagonalKeyMap[],
  kvHeads: number,
  partner: Int32Array,
): FoldedKeyChain {
  const layers = chainLayers('foldKeyChain', maps.length, 'key predictors');
  if (partner.length !== D || partner.some((p, d) => p < 0 || p >= D || partner[p] !== d))
    throw new InvalidArgumentError('foldKeyChain: partner must pair 128 channels (an involution)');
  maps.forEach((m, i) => {
    if (m.a.length !== kvHeads * D || m.b.length !== kvHeads * D)
      throw new InvalidArgumentError(`foldKeyChain: map ${i}: a and b must be [${kvHeads}, 128]`);
    const why = notRopeDiagonal(m, partner);
    if (why) throw new InvalidArgumentError(`foldKeyChain: map ${i}: ${why}`);
  });
  const fold = new Float32Array((layers - 1) * kvHeads * D * 2);
  for (let h = 0; h < kvHeads; h++) {
    // M = W_l···W_{l−j+1} in the same per-channel form (A, B)
    let A = new Float64Array(D).fill(1);
    let B = new Float64Array(D);
    for (let j = 1; j < layers; j++) {
      const m = maps[j - 1]!;
      const a = m.a.subarray(h * D, (h + 1) * D);
      const b = m.b.subarray(h * D, (h + 1) * D);
      // M ← M·W (apply W first): (M·W).A[d] = A[d]·a[d] + B[d]·b[p(d)], (M·W).B[d] = A[d]·b[d] + B[d]·a[p(d)]
      const nA = new Float64Array(D);
      const nB = new Float64Array(D);
      for (let d = 0; d < D; d++) {
        const p = partner[d]!;
        nA[d] = p === d ? A[d]! * a[d]! : A[d]! * a[d]! + B[d]! * b[p]!;
        nB[d] = p === d ? 0 : A[d]! * b[d]! + B[d]! * a[p]!;
      }
      A = nA;
      B = nB;
      // the fold is Mᵀ: (Mᵀq)[d] = A[d]·q[d] + B[p(d)]·q[p(d)]
      const o = ((j - 1) * kvHeads + h) * D * 2;
      for (let d = 0; d < D; d++) {
        fold[o + 2 * d] = A[d]!;
        fold[o + 2 * d + 1] = B[partner[d]!]!;
      }
    }
  }
  return { layers, kvHeads, fold, partner: Int32Array.from(partner) };
}

/**
 * The value chain of `layer` from AQUA-KV adapters fitted for it (`@kvq/calibrate`'s
 * `fitAquaAdapters` with per-KV-head value predictors from the previous layer's values only, keys
 * not predicted, and anchors every few layers): the predictors of layers l, l − 1, … down to the
 * first layer without a value predictor (the anchor), as {@link ValuePredictorBlocks}.
 * `predictors` is empty where `layer` is itself an anchor (plain {@link decodeAttention} reads it).
 * Key predictors fold only where they commute with RoPE (one complex scalar per RoPE pair, no bias:
 * `keyPredictor: 'rope-diagonal'`); pass the model's `rope` to read them, as `keyMaps` (null when no
 * layer of the chain predicts keys). Typed errors say why adapters cannot be folded: other key
 * predictors (their scores would need each token's query rotated by RoPE), values predicted from
 * keys, heads mixed, a chain longer than {@link VALUE_CHAIN_MAX_LAYERS} layers, or head dim ≠ 128.
 */
export function valueChainFromAdapters(
  adapters: AquaAdapters,
  layer: number,
  rope?: { readonly style: 'interleaved' | 'neox'; readonly dims?: number },
): {
  readonly anchor: number;
  readonly predictors: readonly ValuePredictorBlocks[];
  /** the chain's key predictors (layer l's first), or null when no layer of it predicts keys */
  readonly keyMaps: readonly RopeDiagonalKeyMap[] | null;
} {
  const { kvHeads: H, headDim } = adapters.layout;
  if (headDim !== D)
    throw new InvalidArgumentError(`valueChainFromAdapters: head dim ${headDim}, the kernel needs 128`);
  if (!Number.isInteger(layer) || layer < 0 || layer >= adapters.layers.length)
    throw new InvalidArgumentError(`valueChainFromAdapters: layer ${layer} of ${adapters.layers.length}`);
  const C = H * D;
  const partner = rope ? ropePartners(rope.style, rope.dims) : null;
  const predictors: ValuePredictorBlocks[] = [];
  const keyMaps: RopeDiagonalKeyMap[] = [];
  let keys = false;
  let j = layer;
  for (; j > 0; j--) {
    const a = adapters.layers[j];
    if (!a) break;
    const vw = a.valueWeight; // [C, 2C]: out row, inputs [K_l, V_{l−1}]
    const predictsKeys = a.keyWeight.some((x) => x !== 0) || a.keyBias.some((x) => x !== 0);
    const predicts = predictsKeys || vw.some((x) => x !== 0) || a.valueBias.some((x) => x !== 0);
    if (!predicts) break; // an anchor: stored without prediction
    keyMaps.push(ropeDiagonalKeys(a.keyWeight, a.keyBias, H, partner, j));
    keys ||= predictsKeys;
    const weight = new Float32Array(H * D * D);
    for (let o = 0; o < C; o++) {
      const ho = Math.floor(o / D);
      for (let i = 0; i < 2 * C; i++) {
        const w = vw[o * 2 * C + i]!;
        if (w === 0) continue;
        if (i < C)
          throw new InvalidArgumentError(
            `valueChainFromAdapters: layer ${j} predicts values from its keys; only values from the previous layer's values fold exactly`,
          );
        const hi = Math.floor((i - C) / D);
        if (hi !== ho)
          throw new InvalidArgumentError(
            `valueChainFromAdapters: layer ${j}'s value predictor mixes KV heads (${hi} → ${ho}); the kernel folds per-KV-head predictors`,
          );
        weight[(ho * D + ((i - C) % D)) * D + (o % D)] = w;
      }
    }
    predictors.push({ weight, bias: Float32Array.from(a.valueBias) });
    if (predictors.length >= VALUE_CHAIN_MAX_LAYERS && j > 0)
      throw new InvalidArgumentError(
        `valueChainFromAdapters: layer ${layer} is more than ${VALUE_CHAIN_MAX_LAYERS - 1} predicted layers from its anchor (the kernel reads at most ${VALUE_CHAIN_MAX_LAYERS} value layers)`,
      );
  }
  return { anchor: j, predictors, keyMaps: keys ? keyMaps : null };
}

/**
 * Layer j's key predictor as a {@link RopeDiagonalKeyMap} (zeros when it predicts none), or a typed
 * error saying why it does not commute with RoPE.
 */
function ropeDiagonalKeys(
  w: Float32Array,
  bias: Float32Array,
  H: number,
  partner: Int32Array | null,
  layer: number,
): RopeDiagonalKeyMap {
  const C = H * D;
  const a = new Float32Array(C);
  const b = new Float32Array(C);
  if (!w.some((x) => x !== 0) && !bias.some((x) => x !== 0)) return { a, b };
  if (!partner)
    throw new InvalidArgumentError(
      `valueChainFromAdapters: layer ${layer} predicts its keys; pass the model's rope (style, dims) to fold a RoPE-diagonal key predictor`,
    );
  if (bias.some((x) => x !== 0))
    throw new InvalidArgumentError(
      `valueChainFromAdapters: layer ${layer}'s key predictor has a bias, which does not fold through RoPE (fit with keyPredictor 'rope-diagonal')`,
    );
  for (let o = 0; o < C; o++) {
    const h = Math.floor(o / D);
    const d = o % D;
    const p = h * D + partner[d]!;
    for (let i = 0; i < C; i++) {
      const x = w[o * C + i]!;
      if (x !== 0 && i !== o && i !== p)
        throw new InvalidArgumentError(
          `valueChainFromAdapters: layer ${layer}'s key predictor maps channel ${i} into ${o}: it does not commute with RoPE (fit with keyPredictor 'rope-diagonal')`,
        );
    }
    a[o] = w[o * C + o]!;
    b[o] = p === o ? 0 : w[o * C + p]!;
  }
  const why = notRopeDiagonal({ a, b }, partner);
  if (why) throw new InvalidArgumentError(`valueChainFromAdapters: layer ${layer}'s key predictor: ${why}`);
  return { a, b };
}

/** A {@link FoldedValueChain} in device memory, for {@link decodeAttentionValueChain}. Disposable. */
export class ValueChainMaps implements Disposable {
  readonly layers: number;
  readonly kvHeads: number;
  readonly maps: DeviceBuffer;
  readonly bias: DeviceBuffer;
  /** the key chain's query folds and RoPE partners, or null (keys of layer l only) */
  readonly keys: { readonly fold: DeviceBuffer; readonly partner: DeviceBuffer } | null;
  /** `keys`: the chain's RoPE-diagonal key predictors folded (same layers and KV heads), if any */
  constructor(folded: FoldedValueChain, keys?: FoldedKeyChain) {
    if (keys && (keys.layers !== folded.layers || keys.kvHeads !== folded.kvHeads))
      throw new InvalidArgumentError(
        `ValueChainMaps: key chain of ${keys.layers} layers × ${keys.kvHeads} KV heads, value chain of ${folded.layers} × ${folded.kvHeads}`,
      );
    this.layers = folded.layers;
    this.kvHeads = folded.kvHeads;
    const bufs: DeviceBuffer[] = [];
    try {
      for (const x of [folded.maps, folded.bias, ...(keys ? [keys.fold, keys.partner] : [])])
        bufs.push(DeviceBuffer.from(x));
    } catch (e) {
      for (const b of bufs) b.dispose();
      throw e;
    }
    this.maps = bufs[0]!;
    this.bias = bufs[1]!;
    this.keys = keys ? { fold: bufs[2]!, partner: bufs[3]! } : null;
  }
  dispose(): void {
    this.maps.dispose();
    this.bias.dispose();
    this.keys?.fold.dispose();
    this.keys?.partner.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Arguments of {@link decodeAttentionValueChain}: those of decodeAttention plus the chain. */
export interface DecodeAttentionValueChainArgs extends Omit<DecodeAttentionArgs, 'kernel'> {
  /**
   * The pools of layers l − 1, l − 2, … (down to the anchor) of the same page layout and page count
   * as `pool` (layer l, whose keys and value residuals are read), under the same page table
   */
  readonly chain: readonly PagedKVPool[];
  readonly maps: ValueChainMaps;
}

/**
 * Decode attention for a layer whose values are predicted from earlier layers' (AQUA-KV values with
 * per-KV-head predictors, folded — see {@link FoldedValueChain}), exactly and without reconstructing
 * any layer: one kernel reads layer l's key codes for the scores and the value residual codes of
 * layers l … a under the same softmax weights, each summed apart; the combine applies the folded
 * maps. With a key chain in `maps` ({@link FoldedKeyChain}) the scores also add the key residuals of
 * layers l − 1 … a against the query folded for each: every pool's keys are then that layer's key
 * residual with RoPE applied at the token's position (RoPE_t(K_j − W_j·K_{j−1}), exact because W_j
 * commutes with RoPE). HIGGS pages only (keys as given, i.e. with RoPE applied; values as residuals),
 * at most 4 query heads per KV head; `partial` must hold {@link partialBytes}(…, `chain.length + 1`).
 * Asynchronous on the default stream.
 */
export function decodeAttentionValueChain(a: DecodeAttentionValueChainArgs): void {
  const { addon } = requireCuda();
  const l = a.pool.layout;
  const f = l.format;
  if (f.kind !== 'higgs')
    throw new InvalidArgumentError('decodeAttentionValueChain: the pools must hold HIGGS pages');
  const layers = a.chain.length + 1;
  if (layers !== a.maps.layers)
    throw new InvalidArgumentError(
      `decodeAttentionValueChain: ${a.chain.length} earlier pools but maps for ${a.maps.layers} value layers`,
    );
  if (a.maps.kvHeads !== l.kvHeads)
    throw new InvalidArgumentError(
      `decodeAttentionValueChain: maps for ${a.maps.kvHeads} KV heads, pool has ${l.kvHeads}`,
    );
  // pools made from one spec usually share its format object: compare serialized only when not
  let format: string | undefined;
  const sameFormat = (g: unknown) => {
    if (g === f) return true;
    format ??= JSON.stringify(f);
    return JSON.stringify(g) === format;
  };
  for (const [i, p] of a.chain.entries()) {
    if (
      p.pages !== a.pool.pages ||
      p.layout.pageTokens !== l.pageTokens ||
      p.layout.kvHeads !== l.kvHeads ||
      !sameFormat(p.layout.format)
    )
      throw new InvalidArgumentError(
        `decodeAttentionValueChain: chain pool ${i} differs from the layer's pool (format, page size, KV heads or page count)`,
      );
  }
  const group = a.queryHeads / l.kvHeads;
  const cbK = higgsPairCodeBits(f.keys);
  const cbV = higgsPairCodeBits(f.values);
  if (!addon.decodeAttnHiggsChainOk(group, l.pageTokens, cbK, cbV, layers))
    throw new InvalidArgumentError(
      `decodeAttentionValueChain: not compiled for ${group} query heads per KV head (1–4), pages of ${l.pageTokens} tokens (a multiple of 32), pair codes ${cbK}/${cbV} bits (5/4, 3/3, 6/5, 4/4) and ${layers} value layers (2–${VALUE_CHAIN_MAX_LAYERS})`,
    );
  if (a.partial.bytes < partialBytes(a.batch, a.queryHeads, a.maxPages, a.splitPages, layers))
    throw new InvalidArgumentError('decodeAttentionValueChain: partial scratch too small');
  const [lutK, lutV, signsK] = a.pool.higgsTables!;
  cuda('decode attention (value chain)', () =>
    addon.decodeAttnHiggsChain(
      ...decodeArgs(a),
      a.chain.map((p) => p.buffer.ptr),
      cbK,
      cbV,
      lutK.ptr,
      lutV.ptr,
      signsK.ptr,
      a.maps.maps.ptr,
      a.maps.bias.ptr,
      a.maps.keys?.fold.ptr ?? null,
      a.maps.keys?.partner.ptr ?? null,
    ),
  );
}

/** The Hadamard signs of a HIGGS pool's values (for {@link foldValueChain}). */
export function valueSignsOf(pool: PagedKVPool): Float32Array {
  const f = pool.layout.format;
  if (f.kind !== 'higgs') throw new InvalidArgumentError('valueSignsOf: not a HIGGS pool');
  return higgsSigns(f.values);
}
