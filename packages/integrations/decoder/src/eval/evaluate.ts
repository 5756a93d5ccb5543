import { InvalidArgumentError, type KVCache } from '@kvq/core';
import type { LlamaModel } from '../llama/model.js';
import { logSoftmaxRows } from './log-softmax.js';

/** A cache configuration to evaluate: a name and a factory of fresh caches (one per window). */
export interface EvalCacheSpec {
  readonly name: string;
  readonly create: () => KVCache;
}

/** Options of {@link evaluateCaches}. */
export interface EvalOptions {
  readonly model: LlamaModel;
  /** the windows to score (see `nonOverlappingWindows`) */
  readonly windows: readonly (readonly number[])[];
  /** the reference configuration (fp16): its next-token distributions are what KL and top-1 compare to */
  readonly reference: EvalCacheSpec;
  /** the other configurations */
  readonly caches: readonly EvalCacheSpec[];
  /** tokens per forward call (default 32, the protocol's chunk) */
  readonly chunk?: number;
  /** called after every chunk */
  readonly onProgress?: (p: EvalProgress) => void;
}

/** Progress of an evaluation. */
export interface EvalProgress {
  readonly done: number;
  readonly total: number;
  readonly cache: string;
  readonly window: number;
}

/** What one cache configuration scored over all windows. */
export interface EvalResult {
  readonly name: string;
  /** predicted tokens (Σ window length − 1) */
  readonly tokens: number;
  /** mean NLL over every predicted token (nats) */
  readonly nll: number;
  readonly perplexity: number;
  /** mean KL(reference ‖ this) of the next-token distributions (nats); 0 for the reference */
  readonly kl: number;
  /** fraction of predicted positions whose argmax equals the reference's */
  readonly top1: number;
  /** from the cache's own stats at the end of each window, value-weighted over windows */
  readonly bitsPerValue: number;
  readonly storedBitsPerValue: number;
  readonly bitsK: number;
  readonly bitsV: number;
  /** cache bytes and fp16 bytes at the end of a window, mean over windows */
  readonly kvBytes: number;
  readonly fp16KvBytes: number;
  readonly seconds: number;
}

interface Acc {
  nll: number;
  kl: number;
  agree: number;
  tokens: number;
  values: number;
  bits: number;
  stored: number;
  bitsK: number;
  bitsV: number;
  bytes: number;
  fp16Bytes: number;
  windows: number;
  seconds: number;
}

/**
 * The evaluation protocol of DESIGN.md: each window goes through a fresh cache of each
 * configuration, fed in chunks; the chunk's tokens attend to each other in full precision and to
 * the compressed-and-reconstructed cache before them (see {@link LlamaModel.forward}). Perplexity
 * = exp(mean NLL); KL and top-1 compare each position's next-token distribution with the
 * reference run's.
 */
export async function evaluateCaches(opts: EvalOptions): Promise<EvalResult[]> {
  const { model, windows } = opts;
  const chunk = opts.chunk ?? 32;
  if (!Number.isInteger(chunk) || chunk < 1)
    throw new InvalidArgumentError(`chunk must be a positive integer, got ${chunk}`);
  if (windows.length === 0) throw new InvalidArgumentError('no windows to evaluate (is the text empty?)');
  const V = model.config.vocab;
  const all = [opts.reference, ...opts.caches];
  const accs: Acc[] = all.map(() => ({
    nll: 0,
    kl: 0,
    agree: 0,
    tokens: 0,
    values: 0,
    bits: 0,
    stored: 0,
    bitsK: 0,
    bitsV: 0,
    bytes: 0,
    fp16Bytes: 0,
    windows: 0,
    seconds: 0,
  }));
  const total = windows.reduce((a, w) => a + Math.ceil(w.length / chunk), 0) * all.length;
  let done = 0;
  for (let wi = 0; wi < windows.length; wi++) {
    const ids = windows[wi]!;
    const n = ids.length - 1;
    const refLogp = new Float32Array(n * V);
    const refTop = new Int32Array(n);
    for (let ci = 0; ci < all.length; ci++) {
      const spec = all[ci]!;
      const acc = accs[ci]!;
      const isRef = ci === 0;
      const t0 = performance.now();
      const cache = spec.create();
      try {
        for (let s = 0; s < ids.length; s += chunk) {
          const part = ids.slice(s, s + chunk);
          const logits = await model.forward(part, cache);
          const rows = Math.min(part.length, n - s);
          if (rows > 0) {
            const logp = logSoftmaxRows(
              logits,
              rows,
              V,
              isRef ? refLogp.subarray(s * V, (s + rows) * V) : undefined,
            );
            for (let r = 0; r < rows; r++) {
              const pos = s + r;
              const o = r * V;
              acc.nll -= logp[o + ids[pos + 1]!]!;
              let best = 0;
              for (let j = 1; j < V; j++) if (logp[o + j]! > logp[o + best]!) best = j;
              if (isRef) {
                refTop[pos] = best;
                acc.agree++;
              } else {
                if (best === refTop[pos]) acc.agree++;
                const ro = pos * V;
                let kl = 0;
                for (let j = 0; j < V; j++) {
                  const lp = refLogp[ro + j]!;
                  kl += Math.exp(lp) * (lp - logp[o + j]!);
                }
                acc.kl += kl;
              }
            }
            acc.tokens += rows;
          }
          done++;
          opts.onProgress?.({ done, total, cache: spec.name, window: wi });
        }
        const st = cache.stats();
        acc.values += st.values;
        acc.bits += st.bitsPerValue * st.values;
        acc.stored += st.storedBitsPerValue * st.values;
        acc.bitsK += st.bitsK * st.values;
        acc.bitsV += st.bitsV * st.values;
        acc.bytes += st.bytes;
        acc.fp16Bytes += st.fp16Bytes;
        acc.windows++;
      } finally {
        cache.dispose();
      }
      acc.seconds += (performance.now() - t0) / 1000;
    }
  }
  return all.map((spec, i) => {
    const a = accs[i]!;
    const nll = a.nll / a.tokens;
    return {
      name: spec.name,
      tokens: a.tokens,
      nll,
      perplexity: Math.exp(nll),
      kl: a.kl / a.tokens,
      top1: a.agree / a.tokens,
      bitsPerValue: a.bits / a.values,
      storedBitsPerValue: a.stored / a.values,
      bitsK: a.bitsK / a.values,
      bitsV: a.bitsV / a.values,
      kvBytes: Math.round(a.bytes / a.windows),
      fp16KvBytes: Math.round(a.fp16Bytes / a.windows),
      seconds: a.seconds,
    };
  });
}
