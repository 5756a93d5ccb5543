import {
  type AquaAdapters,
  InvalidArgumentError,
  type KVLayout,
  type LayerAdapter,
  type LayerQuantizers,
  type ModelIdentity,
  type PresetConfig,
  channels,
  createQuantizer,
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
  /** 1 − ‖K − K̂‖² / ‖K − mean(K)‖²  (null for layer 0) */
  readonly keyExplainedVariance: number | null;
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
 * Fits AQUA-KV adapters layer by layer as the paper's reference code does: layer l's keys are
 * predicted from layer l−1's RECONSTRUCTED keys, its values from layer l's reconstructed keys and
 * layer l−1's reconstructed values, by ridge regression in float64; each layer's residual is then
 * quantized with the preset's quantizers in the cache's block size, so that what is fitted is what
 * decoding will see. Layer 0 has no predictor. `structure: 'per-kv-head'` fits block-diagonal
 * maps (one ridge problem per KV head) stored in the same full-size arrays.
 */
export function fitAquaAdapters(recorded: RecordedKV, opts: FitAquaOptions): FitAquaResult {
  const { layout, preset } = opts;
  const c = channels(layout);
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
  const structure = opts.structure ?? 'full';
  if (!STRUCTURES.includes(structure)) {
    throw new InvalidArgumentError(
      `fitAquaAdapters: unknown structure ${JSON.stringify(structure)} (expected ${STRUCTURES.map((x) => `'${x}'`).join(' or ')})`,
    );
  }
  // the value predictor has the most inputs: 2C (full) or 2·headDim per head (per-kv-head)
  const inputs = structure === 'full' ? 2 * c : 2 * layout.headDim;
  if (tokens < inputs) {
    const shape =
      structure === 'full'
        ? `${c}×${2 * c} adapters`
        : `per-kv-head ${layout.headDim}×${2 * layout.headDim} adapter blocks`;
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

    const kfit = fitMap([prevK], k, tokens, layout, structure, lambdaScale);
    const kPred = applyLinear(kfit, prevK, tokens, c);
    const kRec = addInPlace(roundTrip(qs.keys, subtract(k, kPred), tokens, layout, blockTokens), kPred);

    const vIn = valuePredictorInput(kRec, prevV, tokens, c);
    const vfit = fitMap([kRec, prevV], v, tokens, layout, structure, lambdaScale, vIn);
    // predictions from the stored (full-size) weights, exactly as decoding applies them
    const vPred = applyLinear(vfit, vIn, tokens, 2 * c);
    const vRec = addInPlace(roundTrip(qs.values, subtract(v, vPred), tokens, layout, blockTokens), vPred);

    layers.push({
      keyWeight: kfit.weight,
      keyBias: kfit.bias,
      valueWeight: vfit.weight,
      valueBias: vfit.bias,
    });
    const r: LayerFitReport = {
      layer: l,
      keyExplainedVariance: explainedVariance(k, kPred, tokens, c),
      valueExplainedVariance: explainedVariance(v, vPred, tokens, c),
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
        ...(opts.calibration ?? {}),
      },
    },
    report,
  };
}
