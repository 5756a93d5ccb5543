import { linearCpu } from '../backend/cpu/dense.js';
import { AdapterMismatchError, MissingAdaptersError } from '../errors.js';
import { type KVLayout, channels, sameLayout } from '../layout.js';
import type { AquaAdapters, LayerAdapter, Predictor } from './types.js';

/** The predictor of presets without one: every tensor is stored itself. */
export const nonePredictor: Predictor = Object.freeze({
  kind: 'none' as const,
  predictKeys: () => null,
  predictValues: () => null,
});

/**
 * Checks that `adapters` fit `layout` (and, when given, the model): one entry per layer, null for
 * layer 0, weights of the documented shapes, all finite. Throws {@link AdapterMismatchError}.
 */
export function validateAdapters(adapters: AquaAdapters, layout: KVLayout, model?: string): void {
  if (!sameLayout(adapters.layout, layout)) {
    throw new AdapterMismatchError(
      `adapters were fitted for layout ${JSON.stringify(adapters.layout)}, but the cache has ${JSON.stringify(layout)}`,
    );
  }
  if (model !== undefined && adapters.model.name !== model) {
    throw new AdapterMismatchError(`adapters were fitted for model "${adapters.model.name}", not "${model}"`);
  }
  if (adapters.layers.length !== layout.layers) {
    throw new AdapterMismatchError(
      `adapters have ${adapters.layers.length} layers, the layout has ${layout.layers}`,
    );
  }
  if (adapters.layers[0] !== null) throw new AdapterMismatchError('adapters: layer 0 must have no predictor');
  const c = channels(layout);
  adapters.layers.forEach((a, l) => {
    if (l === 0) return;
    if (!a) throw new AdapterMismatchError(`adapters: layer ${l} has no predictor`);
    const check = (name: keyof LayerAdapter, n: number) => {
      const arr = a[name];
      if (!(arr instanceof Float32Array) || arr.length !== n) {
        throw new AdapterMismatchError(
          `adapters: layer ${l} ${name} must hold ${n} fp32 values, got ${arr?.length}`,
        );
      }
      for (let i = 0; i < arr.length; i++) {
        if (!Number.isFinite(arr[i]!))
          throw new AdapterMismatchError(`adapters: layer ${l} ${name}[${i}] is not finite`);
      }
    };
    check('keyWeight', c * c);
    check('keyBias', c);
    check('valueWeight', 2 * c * c);
    check('valueBias', c);
  });
}

/**
 * The input rows of AQUA-KV's value predictor, [K_l, V_{l−1}] per token: `tokens × 2C` from two
 * `tokens × C` arrays (C = `channels`), row-major fp32.
 */
export function valuePredictorInput(
  keys: Float32Array,
  prevValues: Float32Array,
  tokens: number,
  channels: number,
): Float32Array {
  const c = channels;
  const x = new Float32Array(tokens * 2 * c);
  for (let t = 0; t < tokens; t++) {
    x.set(keys.subarray(t * c, (t + 1) * c), t * 2 * c);
    x.set(prevValues.subarray(t * c, (t + 1) * c), t * 2 * c + c);
  }
  return x;
}

/**
 * AQUA-KV's predictor: K̂_l = K̃_{l−1}·Wkᵀ + bk and V̂_l = [K̃_l, Ṽ_{l−1}]·Wvᵀ + bv for l ≥ 1.
 * Throws {@link MissingAdaptersError} without adapters and {@link AdapterMismatchError} for adapters
 * of another layout.
 */
export function aquaPredictor(
  adapters: AquaAdapters | undefined,
  layout: KVLayout,
  preset = 'aqua',
): Predictor {
  if (!adapters) throw new MissingAdaptersError(preset);
  validateAdapters(adapters, layout);
  const c = channels(layout);
  return {
    kind: 'aqua',
    predictKeys(layer, prevKeys, tokens) {
      const a = adapters.layers[layer];
      if (!a || !prevKeys) return null;
      return linearCpu(prevKeys, tokens, a.keyWeight, c, c, a.keyBias);
    },
    predictValues(layer, keys, prevValues, tokens) {
      const a = adapters.layers[layer];
      if (!a || !prevValues) return null;
      const x = valuePredictorInput(keys, prevValues, tokens, c);
      return linearCpu(x, tokens, a.valueWeight, 2 * c, c, a.valueBias);
    },
  };
}
