import type { KVLayout } from '../layout.js';

/**
 * AQUA-KV linear adapters of one layer l ≥ 1, with C = kvHeads × headDim channels per token
 * (keys pre-RoPE, in the decoder's own head-dim order):
 *   K̂_l = K̃_{l-1} · keyWeightᵀ + keyBias                      (keyWeight [C, C])
 *   V̂_l = [K̃_l, Ṽ_{l-1}] · valueWeightᵀ + valueBias            (valueWeight [C, 2C])
 * where K̃ / Ṽ are reconstructed (dequantized) tensors. Only the residual (true − predicted) is stored.
 */
export interface LayerAdapter {
  readonly keyWeight: Float32Array;
  readonly keyBias: Float32Array;
  readonly valueWeight: Float32Array;
  readonly valueBias: Float32Array;
}

/** Identity of the model adapters were fitted on; loading them for another model is an error. */
export interface ModelIdentity {
  /** e.g. general.name from the GGUF */
  readonly name: string;
  /** a content hash of the weights or of the file header (hex), when known */
  readonly fingerprint?: string;
}

/** A full set of AQUA-KV adapters: `layers[0]` is always null (layer 0 has no predictor). */
export interface AquaAdapters {
  readonly layout: KVLayout;
  readonly model: ModelIdentity;
  readonly layers: readonly (LayerAdapter | null)[];
  /** free-form calibration facts (text, tokens, preset, seconds) stored in file metadata */
  readonly calibration?: Readonly<Record<string, unknown>>;
}

/**
 * Predicts a layer's keys or values from reconstructed neighbours. `null` means "no prediction"
 * (store the tensor itself): always the case for layer 0 and for the `none` predictor.
 * Inputs and outputs are `[tokens, C]` row-major fp32.
 */
export interface Predictor {
  readonly kind: 'none' | 'aqua';
  predictKeys(layer: number, prevKeys: Float32Array | null, tokens: number): Float32Array | null;
  predictValues(
    layer: number,
    keys: Float32Array,
    prevValues: Float32Array | null,
    tokens: number,
  ): Float32Array | null;
}
