import {
  type AquaAdapters,
  InvalidArgumentError,
  type KVLayout,
  type LayerAdapter,
  type LayerQuantizers,
  type ModelIdentity,
  type PresetConfig,
  ROPE_STYLES,
  type RopeConfig,
  channels,
  createQuantizer,
  ropePairs,
  valuePredictorInput,
} from '@kvq/core';
import { type LinearFit, NormalEquations, applyLinear, solveRidge } from './ridge.js';

/** Recorded true (pre-RoPE) keys and values of every layer, each `[tokens, kvHeads·headDim]`. */
export interface RecordedKV {
  readonly tokens: number;
  readonly keys: readonly Float32Array[];
  readonly values: readonly Float32Array[];
}

/** How well the fitted predictors explain each layer (on the calibration tokens). */
export interface LayerFitReport {
  readonly layer: number;
  /**
   * 1 − ‖K − K̂‖² / ‖K − mean(K)‖²; null where the layer's keys have no predictor (layer 0, anchor
   * layers, `keyPredictor: 'none'`)
   */
  readonly keyExplainedVariance: number | null;
  /** the same for values; null for layer 0 and anchor layers */
  readonly valueExplainedVariance: number | null;
  /** ‖K − K̃‖² / ‖K‖² after prediction + quantization of the residual */
  readonly keyRelError: number;
  readonly valueRelError: number;
}

/**
 * The shape of the fitted adapters:
 * - `'full'`: AQUA-KV's dense maps — every key channel of layer l from every key channel of layer
 *   l−1 (`[C, C]`), every value channel from all of [K_l, V_{l−1}] (`[C, 2C]`).
 * - `'per-kv-head'`: block-diagonal maps — head h of K_l only from head h of K_{l−1} (a
 *   headDim×headDim block), head h of V_l only from head h of K_l and head h of V_{l−1} (a
 *   headDim×2·headDim block); one ridge problem per KV head. The blocks are stored in the same
 *   full-size weight arrays with zeros everywhere else, so decoding is unchanged.
 */
export type AdapterStructure = 'full' | 'per-kv-head';

const STRUCTURES: readonly AdapterStructure[] = ['full', 'per-kv-head'];

/**
 * How layer l's keys are predicted from layer l−1's reconstructed keys:
 * - `'linear'`: AQUA-KV's affine map with bias, dense or per KV head as `structure` says.
 * - `'rope-diagonal'`: per KV head and per RoPE frequency pair (the two channels RoPE rotates
 *   together), multiplication by one complex scalar c = a + ib, i.e. the 2×2 block [[a, −b], [b, a]],
 *   and no bias (channels RoPE leaves unrotated, past `rope.dims`, get one real scalar each). Such a
 *   map commutes with RoPE at every position, so a decoding kernel can fold it into the query
 *   exactly: q·RoPE_t(c·k) = (c̄·q)·RoPE_t(k) per pair. Needs {@link FitAquaOptions.rope}.
 * - `'none'`: no key predictor (zero weights and bias: the key residual is the key itself).
 */
export type KeyPredictor = 'linear' | 'rope-diagonal' | 'none';

/**
 * What layer l's value predictor reads: `'keys-and-values'` (AQUA-KV: [K̃_l, Ṽ_{l−1}]) or
 * `'values'` (Ṽ_{l−1} only; the key columns of `valueWeight` are exactly zero). With `'values'`
 * the values of a layer depend only on the previous layer's values, so attention can fold the
 * value adapters through the attention weights exactly: Σ_t p_t·V_l[t] = (Σ_t p_t·V_{l−1}[t])·Wᵀ +
 * b + Σ_t p_t·R_l[t].
 */
export type ValueInputs = 'keys-and-values' | 'values';

/**
 * Which channels of a head RoPE rotates together, as the model's RoPE (e.g. `LlamaModel.config.rope`
 * of `@kvq/decoder`) says: `style` `'interleaved'` pairs (2i, 2i+1) (llama.cpp / GGUF), `'neox'`
 * pairs (i, i + dims/2) (HF rotate-half); `dims` rotated channels per head (default: headDim),
 * channels ≥ dims are not rotated. The recorded keys must be in the same channel order.
 */
export type RopePairs = Pick<RopeConfig, 'style'> & Partial<Pick<RopeConfig, 'dims'>>;

const KEY_PREDICTORS: readonly KeyPredictor[] = ['linear', 'rope-diagonal', 'none'];
const VALUE_INPUTS: readonly ValueInputs[] = ['keys-and-values', 'values'];

export interface FitAquaOptions {
  readonly layout: KVLayout;
  readonly preset: PresetConfig;
  readonly model: ModelIdentity;
  /** tokens per encoded block, as the cache compresses them (default: the preset's bufferTokens, or 128) */
  readonly blockTokens?: number;
  /** ridge strength relative to mean(diag(XᵀX)) (AQUA-KV: 1e-3) */
  readonly lambdaScale?: number;
  /**
   * `'full'` (default, AQUA-KV) or `'per-kv-head'` (block-diagonal per KV head, for fused per-head
   * decoding kernels); see {@link AdapterStructure}. With `'per-kv-head'` the ridge λ is taken
   * relative to each head's own mean(diag(XᵀX)), and fewer calibration tokens are needed
   * (≥ 2·headDim instead of ≥ 2·C). Recorded as `calibration.structure`.
   */
  readonly structure?: AdapterStructure;
  /**
   * The key predictor, see {@link KeyPredictor}: `'linear'` (default, shaped by `structure`),
   * `'rope-diagonal'` (one complex scalar per KV head and RoPE pair, no bias; requires `rope`) or
   * `'none'`. Recorded as `calibration.keyPredictor`.
   */
  readonly keyPredictor?: KeyPredictor;
  /**
   * The value predictor's inputs, see {@link ValueInputs}: `'keys-and-values'` (default, AQUA-KV) or
   * `'values'` (Ṽ_{l−1} only; the map is dense or per KV head as `structure` says, with bias).
   * Recorded as `calibration.valueInputs`.
   */
  readonly valueInputs?: ValueInputs;
  /**
   * Anchor layers: every layer l with l mod `anchorEvery` = 0 (0, A, 2A, …) stores its keys and
   * values without prediction — its adapter has zero weights and zero biases, so the prediction is
   * 0 and the residual is the tensor itself, quantized with the preset's quantizers of that layer
   * (layer 0's own widths apply only to layer 0). A positive integer; 1 makes every layer an anchor
   * (no predictor at all). Default: only layer 0. Recorded as `calibration.anchorEvery` when given.
   */
  readonly anchorEvery?: number;
  /**
   * The model's RoPE channel pairing ({@link RopePairs}); required with `keyPredictor:
   * 'rope-diagonal'` (ignored otherwise), recorded as `calibration.rope`. Pass the model's own
   * config (e.g. `model.config.rope`), never an assumed one: the wrong pairing gives a map that does
   * not commute with the model's RoPE.
   */
  readonly rope?: RopePairs;
  readonly calibration?: Record<string, unknown>;
  /** called after each layer */
  readonly onLayer?: (report: LayerFitReport) => void;
}

export interface FitAquaResult {
  readonly adapters: AquaAdapters;
  readonly report: readonly LayerFitReport[];
}

function quantizersOf(preset: PresetConfig, layer: number): LayerQuantizers {
  return preset.layerQuantizers?.[layer] ?? preset.quantizers;
}

/** Quantizes `x` `[tokens, C]` block by block and returns the reconstruction. */
function roundTrip(
  spec: LayerQuantizers['keys'],
  x: Float32Array,
  tokens: number,
  layout: KVLayout,
  blockTokens: number,
): Float32Array {
  const q = createQuantizer(spec);
  const c = channels(layout);
  const out = new Float32Array(x.length);
  for (let t0 = 0; t0 < tokens; t0 += blockTokens) {
    const t = Math.min(blockTokens, tokens - t0);
    const shape = { tokens: t, kvHeads: layout.kvHeads, headDim: layout.headDim };
    const enc = q.encode(x.subarray(t0 * c, (t0 + t) * c), shape);
    q.decode(enc, out.subarray(t0 * c, (t0 + t) * c));
  }
  return out;
}

function relError(truth: Float32Array, approx: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < truth.length; i++) {
    const d = truth[i]! - approx[i]!;
    num += d * d;
    den += truth[i]! * truth[i]!;
  }
  return den > 0 ? num / den : 0;
}

function explainedVariance(truth: Float32Array, pred: Float32Array, tokens: number, c: number): number {
  const mean = new Float64Array(c);
  for (let t = 0; t < tokens; t++) for (let j = 0; j < c; j++) mean[j]! += truth[t * c + j];
  for (let j = 0; j < c; j++) mean[j]! /= tokens;
  let res = 0;
  let tot = 0;
  for (let t = 0; t < tokens; t++) {
    for (let j = 0; j < c; j++) {
      const y = truth[t * c + j]!;
      const d = y - pred[t * c + j]!;
      const m = y - mean[j]!;
      res += d * d;
      tot += m * m;
    }
  }
  return tot > 0 ? 1 - res / tot : 0;
}

function subtract(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! - b[i]!;
  return out;
}

function addInPlace(a: Float32Array, b: Float32Array): Float32Array {
  for (let i = 0; i < a.length; i++) a[i]! += b[i];
  return a;
}

/**
 * Columns `[offset, offset + width)` of every row of each `xs[j]` `[tokens, c]`, side by side:
 * `[tokens, xs.length·width]` (the whole of a single input as it is). With `offset` 0 and `width` C
 * this is {@link valuePredictorInput}'s row layout `[K̃_l, Ṽ_{l−1}]`.
 */
function sideBySide(
  xs: readonly Float32Array[],
  tokens: number,
  c: number,
  offset: number,
  width: number,
): Float32Array {
  if (xs.length === 1 && offset === 0 && width === c) return xs[0]!;
  const n = xs.length;
  const out = new Float32Array(tokens * n * width);
  for (let t = 0; t < tokens; t++)
    for (let j = 0; j < n; j++)
      out.set(xs[j]!.subarray(t * c + offset, t * c + offset + width), (t * n + j) * width);
  return out;
}

/**
 * Fits y ≈ [xs[0], xs[1], …]·Wᵀ + b (each `[tokens, C]`; keys: [K̃_{l−1}], values: [K̃_l, Ṽ_{l−1}]):
 * dense `[C, n·C]`, or per KV head h a headDim×n·headDim block reading head h of every input, stored
 * at columns j·C + h·headDim of the full-size weights (zeros elsewhere). `whole`: the inputs side by
 * side `[tokens, n·C]`, where the caller has them already (the dense fit reads it).
 */
function fitMap(
  xs: readonly Float32Array[],
  y: Float32Array,
  tokens: number,
  layout: KVLayout,
  structure: AdapterStructure,
  lambdaScale: number,
  whole?: Float32Array,
): LinearFit {
  const c = channels(layout);
  const n = xs.length;
  if (structure === 'full') {
    const eq = new NormalEquations(n * c, c);
    eq.add(whole ?? sideBySide(xs, tokens, c, 0, c), y, tokens);
    return solveRidge(eq, lambdaScale);
  }
  const d = layout.headDim;
  const weight = new Float32Array(c * n * c);
  const bias = new Float32Array(c);
  for (let h = 0; h < layout.kvHeads; h++) {
    const eq = new NormalEquations(n * d, d);
    eq.add(sideBySide(xs, tokens, c, h * d, d), sideBySide([y], tokens, c, h * d, d), tokens);
    const fit = solveRidge(eq, lambdaScale);
    for (let o = 0; o < d; o++)
      for (let j = 0; j < n; j++)
        // output channel h·d + o reads channels h·d … h·d + d − 1 of input j
        weight.set(
          fit.weight.subarray((o * n + j) * d, (o * n + j + 1) * d),
          (h * d + o) * n * c + j * c + h * d,
        );
    bias.set(fit.bias.subarray(0, d), h * d);
  }
  return { weight, bias };
}

/**
 * The channel pairs RoPE rotates together within one head of `headDim` channels: `[re, im]` index
 * pairs (RoPE turns pair i by angle θ_i·position: (re + i·im) ↦ e^{iθ_i·pos}·(re + i·im)), and the
 * channels it leaves unrotated (≥ `rope.dims`), as `@kvq/core`'s `ropePairs` gives them. Throws
 * {@link InvalidArgumentError} for an unknown style or a `dims` that is not an even integer in
 * [2, headDim].
 */
export function ropeChannelPairs(
  headDim: number,
  rope: RopePairs,
): { readonly pairs: readonly (readonly [number, number])[]; readonly unrotated: readonly number[] } {
  try {
    const { pairs, unrotated } = ropePairs(headDim, rope);
    return { pairs, unrotated };
  } catch (e) {
    // with a known style and no rope.dims, what failed is the head dim (every channel rotates)
    if (rope?.dims === undefined && ROPE_STYLES.includes(rope?.style)) {
      throw new InvalidArgumentError(
        `rope-diagonal keys need an even headDim (RoPE rotates channel pairs), got headDim ${headDim}`,
      );
    }
    throw e;
  }
}

/**
 * Least-squares RoPE-commuting map y ≈ x·Wᵀ (no bias), `x`, `y` `[tokens, C]`: per KV head and RoPE
 * pair (see {@link ropeChannelPairs}) one complex scalar c = Σ_t conj(x_t)·y_t / (Σ_t |x_t|² + λ),
 * with x_t = x_re + i·x_im the pair's values; per unrotated channel one real scalar Σ x·y / (Σ x² + λ).
 * λ = `lambdaScale` × mean(diag(XᵀX)) over the head's input channels (as the per-kv-head fit takes it).
 * Stored as W[re][re] = W[im][im] = Re c, W[im][re] = Im c, W[re][im] = −Im c in a full-size `[C, C]`
 * weight, zeros elsewhere; the bias is zero.
 */
export function fitRopeDiagonal(
  x: Float32Array,
  y: Float32Array,
  tokens: number,
  layout: KVLayout,
  rope: RopePairs,
  lambdaScale = 1e-3,
): LinearFit {
  const c = channels(layout);
  const d = layout.headDim;
  if (x.length !== tokens * c || y.length !== tokens * c) {
    throw new InvalidArgumentError(`fitRopeDiagonal: x and y must be [${tokens}, ${c}]`);
  }
  const { pairs, unrotated } = ropeChannelPairs(d, rope);
  const weight = new Float32Array(c * c);
  const bias = new Float32Array(c);
  for (let h = 0; h < layout.kvHeads; h++) {
    const o = h * d;
    let diag = 0;
    for (let t = 0; t < tokens; t++)
      for (let j = 0; j < d; j++) diag += x[t * c + o + j]! * x[t * c + o + j]!;
    const lambda = lambdaScale * (diag / d) + 1e-12;
    for (const [pr, pi] of pairs) {
      let re = 0;
      let im = 0;
      let den = lambda;
      for (let t = 0; t < tokens; t++) {
        const xr = x[t * c + o + pr]!;
        const xi = x[t * c + o + pi]!;
        const yr = y[t * c + o + pr]!;
        const yi = y[t * c + o + pi]!;
        // conj(x)·y = (xr − i·xi)(yr + i·yi)
        re += xr * yr + xi * yi;
        im += xr * yi - xi * yr;
        den += xr * xr + xi * xi;
      }
      const a = re / den;
      const b = im / den;
      const r = o + pr;
      const i = o + pi;
      weight[r * c + r] = a;
      weight[r * c + i] = -b;
      weight[i * c + r] = b;
      weight[i * c + i] = a;
    }
    for (const j of unrotated) {
      let xy = 0;
      let den = lambda;
      for (let t = 0; t < tokens; t++) {
        const xv = x[t * c + o + j]!;
        xy += xv * y[t * c + o + j]!;
        den += xv * xv;
      }
      weight[(o + j) * c + o + j] = xy / den;
    }
  }
  return { weight, bias };
}

/** A `[C, C]` map of Ṽ_{l−1} as the `[C, 2C]` value map over [K̃_l, Ṽ_{l−1}] (key columns zero). */
function valuesOnly(fit: LinearFit, c: number): LinearFit {
  const weight = new Float32Array(c * 2 * c);
  for (let o = 0; o < c; o++) weight.set(fit.weight.subarray(o * c, (o + 1) * c), o * 2 * c + c);
  return { weight, bias: fit.bias };
}

/**
 * Fits AQUA-KV adapters layer by layer as the paper's reference code does: layer l's keys are
 * predicted from layer l−1's RECONSTRUCTED keys, its values from layer l's reconstructed keys and
 * layer l−1's reconstructed values, by ridge regression in float64; each layer's residual is then
 * quantized with the preset's quantizers in the cache's block size, so that what is fitted is what
 * decoding will see. Layer 0 has no predictor. `structure: 'per-kv-head'` fits block-diagonal
 * maps (one ridge problem per KV head) stored in the same full-size arrays. `keyPredictor`,
 * `valueInputs` and `anchorEvery` give the designs a fused decoding kernel can fold exactly
 * (RoPE-commuting keys or none, values from values only, layers stored without prediction).
 */
export function fitAquaAdapters(recorded: RecordedKV, opts: FitAquaOptions): FitAquaResult {
  const { layout, preset } = opts;
  const c = channels(layout);
  const d = layout.headDim;
  const { tokens } = recorded;
  if (recorded.keys.length !== layout.layers || recorded.values.length !== layout.layers) {
    throw new InvalidArgumentError(
      `fitAquaAdapters: expected K/V for ${layout.layers} layers, got ${recorded.keys.length}/${recorded.values.length}`,
    );
  }
  for (let l = 0; l < layout.layers; l++) {
    if (recorded.keys[l]!.length !== tokens * c || recorded.values[l]!.length !== tokens * c) {
      throw new InvalidArgumentError(`fitAquaAdapters: layer ${l} K/V must be [${tokens}, ${c}]`);
    }
  }
  const oneOf = <T extends string>(name: string, value: T, allowed: readonly T[]): T => {
    if (!allowed.includes(value)) {
      throw new InvalidArgumentError(
        `fitAquaAdapters: unknown ${name} ${JSON.stringify(value)} (expected ${allowed.map((x) => `'${x}'`).join(' or ')})`,
      );
    }
    return value;
  };
  const structure = oneOf('structure', opts.structure ?? 'full', STRUCTURES);
  const keyPredictor = oneOf('keyPredictor', opts.keyPredictor ?? 'linear', KEY_PREDICTORS);
  const valueInputs = oneOf('valueInputs', opts.valueInputs ?? 'keys-and-values', VALUE_INPUTS);
  const { anchorEvery } = opts;
  if (anchorEvery !== undefined && !(Number.isInteger(anchorEvery) && anchorEvery > 0)) {
    throw new InvalidArgumentError(
      `fitAquaAdapters: anchorEvery must be a positive integer, got ${anchorEvery}`,
    );
  }
  let rope: { style: RopeConfig['style']; dims: number } | undefined;
  if (keyPredictor === 'rope-diagonal') {
    if (opts.rope === undefined) {
      throw new InvalidArgumentError(
        "fitAquaAdapters: keyPredictor 'rope-diagonal' needs the model's RoPE pairing (option rope: { style: 'interleaved' | 'neox', dims? })",
      );
    }
    try {
      ropeChannelPairs(d, opts.rope);
    } catch (e) {
      throw new InvalidArgumentError(`fitAquaAdapters: ${(e as Error).message}`);
    }
    rope = { style: opts.rope.style, dims: opts.rope.dims ?? d };
  }
  const isAnchor = (l: number) => l === 0 || (anchorEvery !== undefined && l % anchorEvery === 0);
  // the largest ridge problem: inputs per fit (full: of all C channels; per-kv-head: of one head)
  const width = structure === 'full' ? c : d;
  const keyInputs = keyPredictor === 'linear' ? width : keyPredictor === 'rope-diagonal' ? 1 : 0;
  const valueInputCount = valueInputs === 'values' ? width : 2 * width;
  const inputs = layout.layers > 1 && !(anchorEvery === 1) ? Math.max(keyInputs, valueInputCount) : 0;
  if (tokens < inputs) {
    const shape =
      structure === 'full' ? `${c}×${inputs} adapters` : `per-kv-head ${d}×${inputs} adapter blocks`;
    throw new InvalidArgumentError(
      `fitAquaAdapters: ${tokens} tokens is too few to fit ${shape} (need ≥ ${inputs})`,
    );
  }
  const blockTokens = opts.blockTokens ?? (preset.policy.bufferTokens > 0 ? preset.policy.bufferTokens : 128);
  const lambdaScale = opts.lambdaScale ?? 1e-3;
  const layers: (LayerAdapter | null)[] = [null];
  const report: LayerFitReport[] = [];

  const q0 = quantizersOf(preset, 0);
  let prevK = roundTrip(q0.keys, recorded.keys[0]!, tokens, layout, blockTokens);
  let prevV = roundTrip(q0.values, recorded.values[0]!, tokens, layout, blockTokens);
  const first: LayerFitReport = {
    layer: 0,
    keyExplainedVariance: null,
    valueExplainedVariance: null,
    keyRelError: relError(recorded.keys[0]!, prevK),
    valueRelError: relError(recorded.values[0]!, prevV),
  };
  report.push(first);
  opts.onLayer?.(first);

  for (let l = 1; l < layout.layers; l++) {
    const qs = quantizersOf(preset, l);
    const k = recorded.keys[l]!;
    const v = recorded.values[l]!;
    const anchor = isAnchor(l);

    let kfit: LinearFit | null = null;
    if (!anchor && keyPredictor === 'linear')
      kfit = fitMap([prevK], k, tokens, layout, structure, lambdaScale);
    else if (!anchor && keyPredictor === 'rope-diagonal')
      kfit = fitRopeDiagonal(prevK, k, tokens, layout, rope!, lambdaScale);
    let kRec: Float32Array;
    let kPred: Float32Array | null = null;
    if (kfit) {
      kPred = applyLinear(kfit, prevK, tokens, c);
      kRec = addInPlace(roundTrip(qs.keys, subtract(k, kPred), tokens, layout, blockTokens), kPred);
    } else {
      kRec = roundTrip(qs.keys, k, tokens, layout, blockTokens);
    }

    let vfit: LinearFit | null = null;
    let vPred: Float32Array | null = null;
    let vRec: Float32Array;
    if (!anchor) {
      const vIn = valuePredictorInput(kRec, prevV, tokens, c);
      vfit =
        valueInputs === 'values'
          ? valuesOnly(fitMap([prevV], v, tokens, layout, structure, lambdaScale), c)
          : fitMap([kRec, prevV], v, tokens, layout, structure, lambdaScale, vIn);
      // predictions from the stored (full-size) weights, exactly as decoding applies them
      vPred = applyLinear(vfit, vIn, tokens, 2 * c);
      vRec = addInPlace(roundTrip(qs.values, subtract(v, vPred), tokens, layout, blockTokens), vPred);
    } else {
      vRec = roundTrip(qs.values, v, tokens, layout, blockTokens);
    }

    // no predictor (anchor layers, keyPredictor 'none'): zero weights and bias, prediction 0
    layers.push({
      keyWeight: kfit?.weight ?? new Float32Array(c * c),
      keyBias: kfit?.bias ?? new Float32Array(c),
      valueWeight: vfit?.weight ?? new Float32Array(2 * c * c),
      valueBias: vfit?.bias ?? new Float32Array(c),
    });
    const r: LayerFitReport = {
      layer: l,
      keyExplainedVariance: kPred ? explainedVariance(k, kPred, tokens, c) : null,
      valueExplainedVariance: vPred ? explainedVariance(v, vPred, tokens, c) : null,
      keyRelError: relError(k, kRec),
      valueRelError: relError(v, vRec),
    };
    report.push(r);
    opts.onLayer?.(r);
    prevK = kRec;
    prevV = vRec;
  }
  return {
    adapters: {
      layout,
      model: opts.model,
      layers,
      calibration: {
        preset: preset.name,
        tokens,
        blockTokens,
        lambdaScale,
        structure,
        keyPredictor,
        valueInputs,
        ...(anchorEvery !== undefined ? { anchorEvery } : {}),
        ...(rope ? { rope } : {}),
        ...(opts.calibration ?? {}),
      },
    },
    report,
  };
}
