import { InvalidArgumentError, type KVCache } from '@kvq/core';
import type { LlamaModel } from './model.js';

/** Options of {@link greedyGenerate}. */
export interface GenerateOptions {
  /** prompt tokens per forward call during prefill (default 32, the evaluation protocol's chunk) */
  readonly prefillChunk?: number;
  /** stop after this token (not included) */
  readonly stopToken?: number;
}

/** Index of the largest value of `logits[row·vocab … (row+1)·vocab)` (first one on ties). */
export function argmax(logits: Float32Array, row = 0, vocab = logits.length): number {
  let best = 0;
  let bestV = Number.NEGATIVE_INFINITY;
  const o = row * vocab;
  for (let i = 0; i < vocab; i++) {
    const v = logits[o + i]!;
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

/**
 * Greedy decoding: prefill `prompt` into `cache` in chunks, then append the argmax token one at
 * a time. Returns the `steps` generated ids (fewer when `stopToken` is produced).
 */
export async function greedyGenerate(
  model: LlamaModel,
  prompt: readonly number[],
  steps: number,
  cache: KVCache,
  opts: GenerateOptions = {},
): Promise<number[]> {
  if (prompt.length === 0) throw new InvalidArgumentError('greedyGenerate: empty prompt');
  const chunk = opts.prefillChunk ?? 32;
  let logits: Float32Array = new Float32Array(0);
  for (let i = 0; i < prompt.length; i += chunk) {
    logits = await model.forward(prompt.slice(i, i + chunk), cache, { logits: 'last' });
  }
  const out: number[] = [];
  for (let s = 0; s < steps; s++) {
    const next = argmax(logits);
    if (next === opts.stopToken) break;
    out.push(next);
    if (s + 1 < steps) logits = await model.forward([next], cache, { logits: 'last' });
  }
  return out;
}
