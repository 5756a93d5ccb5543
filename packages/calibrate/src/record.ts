import { InvalidArgumentError, type KVLayout, channels } from '@kvq/core';
import type { RecordedKV } from './fit-aqua.js';

/**
 * What calibration needs of a model: its layout, and a forward pass that reports each layer's
 * pre-RoPE keys and values `[tokens, kvHeads, headDim]` (e.g. `LlamaModel` of @kvq/decoder).
 * Called without a cache, the tokens of one call attend to each other (one window).
 */
export interface KVRecordingModel {
  readonly layout: KVLayout;
  forward(
    tokens: ArrayLike<number>,
    cache: null,
    opts: {
      logits: 'none';
      onKV: (layer: number, keys: Float32Array, values: Float32Array, tokens: number) => void;
    },
  ): Promise<unknown>;
}

export interface RecordOptions {
  /** tokens per window (each window is a fresh context; default 1024) */
  readonly windowTokens?: number;
  /** stop after this many tokens (bounds memory: 2 × layers × channels × 4 bytes per token) */
  readonly maxTokens?: number;
  /** called after each window */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Runs `tokens` through the model in non-overlapping windows and keeps every layer's true
 * (full-precision, pre-RoPE) keys and values, in memory bounded by `maxTokens`.
 */
export async function recordKV(
  model: KVRecordingModel,
  tokens: ArrayLike<number>,
  opts: RecordOptions = {},
): Promise<RecordedKV> {
  const windowTokens = opts.windowTokens ?? 1024;
  if (!Number.isInteger(windowTokens) || windowTokens <= 0) {
    throw new InvalidArgumentError(`recordKV: windowTokens must be a positive integer, got ${windowTokens}`);
  }
  const total = Math.min(tokens.length, opts.maxTokens ?? Number.POSITIVE_INFINITY);
  if (total <= 0) throw new InvalidArgumentError('recordKV: no tokens to record');
  const { layers } = model.layout;
  const c = channels(model.layout);
  const keys = Array.from({ length: layers }, () => new Float32Array(total * c));
  const values = Array.from({ length: layers }, () => new Float32Array(total * c));
  for (let t0 = 0; t0 < total; t0 += windowTokens) {
    const n = Math.min(windowTokens, total - t0);
    const ids = Array.from({ length: n }, (_, i) => tokens[t0 + i]!);
    await model.forward(ids, null, {
      logits: 'none',
      onKV: (layer, k, v, t) => {
        if (t !== n || k.length !== n * c || v.length !== n * c) {
          throw new InvalidArgumentError(
            `recordKV: layer ${layer} reported ${t} tokens × ${k.length / Math.max(t, 1)} channels, expected ${n} × ${c}`,
          );
        }
        keys[layer]!.set(k, t0 * c);
        values[layer]!.set(v, t0 * c);
      },
    });
    opts.onProgress?.(t0 + n, total);
  }
  return { tokens: total, keys, values };
}
