import {
  InvalidArgumentError,
  type KVLayout,
  type LayerQuantizers,
  type QuantizerSpec,
  channels,
  createQuantizer,
  valuePredictorInput,
} from '@kvq/core';
import type { RecordedKV } from './fit-aqua.js';
import { NormalEquations, applyLinear, solveRidge } from './ridge.js';

/** One width a layer's keys or values may get. */
export interface RateOption {
  readonly spec: QuantizerSpec;
}

/** Options of {@link allocateBits}. */
export interface AllocateBitsOptions {
  readonly layout: KVLayout;
  /** widths keys may get (any order) */
  readonly keyOptions: readonly RateOption[];
  readonly valueOptions: readonly RateOption[];
  /** average bits per value over all layers, keys and values (exact, for blocks of `blockTokens`) */
  readonly budget: number;
  /**
   * weight of a key's relative error against a value's (KV-AdaQuant: errors in keys are amplified
   * by the softmax; default 2)
   */
  readonly keyWeight?: number;
  readonly blockTokens?: number;
  /** whether layers l ≥ 1 store the residual of an AQUA prediction (default true) */
  readonly predicted?: boolean;
  readonly lambdaScale?: number;
}

/** The allocation and the measured error table behind it. */
export interface BitAllocation {
  readonly layerQuantizers: LayerQuantizers[];
  readonly bitsPerValue: number;
  /** per layer: the chosen key/value bits and the relative errors measured at them */
  readonly layers: {
    layer: number;
    keyBits: number;
    valueBits: number;
    keyError: number;
    valueError: number;
  }[];
}

function bitsOf(spec: QuantizerSpec, layout: KVLayout, blockTokens: number): number {
  return createQuantizer(spec).bitsPerValue({
    tokens: blockTokens,
    kvHeads: layout.kvHeads,
    headDim: layout.headDim,
  });
}

/** ‖x − Q(x)‖² / energy, quantizing `x` `[tokens, C]` in blocks. */
function quantError(
  spec: QuantizerSpec,
  x: Float32Array,
  tokens: number,
  layout: KVLayout,
  blockTokens: number,
  energy: number,
): number {
  const q = createQuantizer(spec);
  const c = channels(layout);
  let err = 0;
  for (let t0 = 0; t0 < tokens; t0 += blockTokens) {
    const n = Math.min(blockTokens, tokens - t0);
    const part = x.subarray(t0 * c, (t0 + n) * c);
    const y = q.decode(q.encode(part, { tokens: n, kvHeads: layout.kvHeads, headDim: layout.headDim }));
    for (let i = 0; i < part.length; i++) err += (part[i]! - y[i]!) ** 2;
  }
  return err / energy;
}

function energyOf(x: Float32Array): number {
  let e = 0;
  for (let i = 0; i < x.length; i++) e += x[i]! * x[i]!;
  return e;
}

/**
 * Per-layer key/value bit allocation under an average budget, by a greedy search on measured
 * error: every (layer, keys|values) starts at its cheapest width; the upgrade with the largest
 * weighted error reduction per added bit is taken while the average stays within `budget`.
 * Errors are measured on the recorded tokens: the relative squared error of quantizing what is
 * stored (for AQUA layers l ≥ 1, the residual of a ridge prediction from layer l−1's true K/V, so
 * the layers' choices are measured independently — a first-order approximation of the chain).
 */
export function allocateBits(recorded: RecordedKV, opts: AllocateBitsOptions): BitAllocation {
  const { layout, budget } = opts;
  const blockTokens = opts.blockTokens ?? 128;
  const keyWeight = opts.keyWeight ?? 2;
  const predicted = opts.predicted ?? true;
  const c = channels(layout);
  const { tokens } = recorded;
  if (opts.keyOptions.length === 0 || opts.valueOptions.length === 0) {
    throw new InvalidArgumentError('allocateBits: keyOptions and valueOptions must not be empty');
  }
  const kOpts = opts.keyOptions
    .map((o) => ({ spec: o.spec, bits: bitsOf(o.spec, layout, blockTokens) }))
    .sort((a, b) => a.bits - b.bits);
  const vOpts = opts.valueOptions
    .map((o) => ({ spec: o.spec, bits: bitsOf(o.spec, layout, blockTokens) }))
    .sort((a, b) => a.bits - b.bits);
  const cheapest = (kOpts[0]!.bits + vOpts[0]!.bits) / 2;
  if (budget < cheapest)
    throw new InvalidArgumentError(
      `allocateBits: budget ${budget} is below the cheapest widths (${cheapest.toFixed(3)} bits/value)`,
    );

  // errors[l][kind][option]
  const errors: number[][][] = [];
  for (let l = 0; l < layout.layers; l++) {
    const k = recorded.keys[l]!;
    const v = recorded.values[l]!;
    let kRes = k;
    let vRes = v;
    if (predicted && l > 0) {
      const keq = new NormalEquations(c, c);
      keq.add(recorded.keys[l - 1]!, k, tokens);
      const kPred = applyLinear(solveRidge(keq, opts.lambdaScale), recorded.keys[l - 1]!, tokens, c);
      kRes = k.map((x, i) => x - kPred[i]!);
      const vIn = valuePredictorInput(k, recorded.values[l - 1]!, tokens, c);
      const veq = new NormalEquations(2 * c, c);
      veq.add(vIn, v, tokens);
      const vPred = applyLinear(solveRidge(veq, opts.lambdaScale), vIn, tokens, 2 * c);
      vRes = v.map((x, i) => x - vPred[i]!);
    }
    const ek = energyOf(k);
    const ev = energyOf(v);
    errors.push([
      kOpts.map((o) => quantError(o.spec, kRes, tokens, layout, blockTokens, ek)),
      vOpts.map((o) => quantError(o.spec, vRes, tokens, layout, blockTokens, ev)),
    ]);
  }
  const choice = Array.from({ length: layout.layers }, () => [0, 0]);
  const opt = [kOpts, vOpts];
  const weight = [keyWeight, 1];
  const total = () =>
    choice.reduce((s, [ki, vi]) => s + kOpts[ki!]!.bits + vOpts[vi!]!.bits, 0) / (2 * layout.layers);
  for (;;) {
    let best: { l: number; kind: number; gain: number } | null = null;
    const now = total();
    for (let l = 0; l < layout.layers; l++) {
      for (let kind = 0; kind < 2; kind++) {
        const i = choice[l]![kind]!;
        if (i + 1 >= opt[kind]!.length) continue;
        const dBits = (opt[kind]![i + 1]!.bits - opt[kind]![i]!.bits) / (2 * layout.layers);
        if (now + dBits > budget + 1e-9) continue;
        const gain = (weight[kind]! * (errors[l]![kind]![i]! - errors[l]![kind]![i + 1]!)) / dBits;
        if (!best || gain > best.gain) best = { l, kind, gain };
      }
    }
    if (!best || best.gain <= 0) break;
    choice[best.l]![best.kind]! += 1;
  }
  return {
    layerQuantizers: choice.map(([ki, vi]) => ({ keys: kOpts[ki!]!.spec, values: vOpts[vi!]!.spec })),
    bitsPerValue: total(),
    layers: choice.map(([ki, vi], l) => ({
      layer: l,
      keyBits: kOpts[ki!]!.bits,
      valueBits: vOpts[vi!]!.bits,
      keyError: errors[l]![0]![ki!]!,
      valueError: errors[l]![1]![vi!]!,
    })),
  };
}
