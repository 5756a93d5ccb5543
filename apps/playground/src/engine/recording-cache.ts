import type { CacheStats, KVCache, KVLayout, PresetConfig } from '@kvq/core';

/** Relative reconstruction error of one layer: Σ(reconstructed − true)² / Σ true², keys and values. */
export interface LayerError {
  readonly layer: number;
  readonly keys: number;
  readonly values: number;
}

/** Sums over tokens of one layer, kept so that several windows add up before the ratio is taken. */
export interface LayerErrorSums {
  keyErr: number;
  keyRef: number;
  valueErr: number;
  valueRef: number;
}

/** Fresh zeroed sums for `layers` layers. */
export function emptyErrorSums(layers: number): LayerErrorSums[] {
  return Array.from({ length: layers }, () => ({ keyErr: 0, keyRef: 0, valueErr: 0, valueRef: 0 }));
}

/** The relative errors from accumulated sums (NaN for a layer that saw no tokens). */
export function relativeErrors(sums: readonly LayerErrorSums[]): LayerError[] {
  return sums.map((s, layer) => ({ layer, keys: s.keyErr / s.keyRef, values: s.valueErr / s.valueRef }));
}

class Growable {
  data = new Float32Array(1024);
  length = 0;
  push(x: Float32Array): void {
    if (this.length + x.length > this.data.length) {
      const next = new Float32Array(Math.max(this.data.length * 2, this.length + x.length));
      next.set(this.data.subarray(0, this.length));
      this.data = next;
    }
    this.data.set(x, this.length);
    this.length += x.length;
  }
}

/**
 * A {@link KVCache} that forwards everything to `inner` and keeps a copy of the true (fp32,
 * pre-RoPE) keys and values appended to it, so that the inner cache's reconstruction can be
 * compared with them ({@link RecordingCache.addErrors}). `dispose()` adds the errors to `sink`
 * (when given) before disposing the inner cache: that is how the errors of every window of an
 * `evaluateCaches` run are collected without a second pass.
 */
export class RecordingCache implements KVCache {
  readonly #inner: KVCache;
  readonly #keys: Growable[];
  readonly #values: Growable[];
  readonly #skip: number;
  readonly #sink: LayerErrorSums[] | undefined;
  #disposed = false;

  /**
   * @param inner the cache to record around
   * @param sink per-layer sums the errors are added to on dispose
   * @param skipTokens leading tokens left out of the error (the fp16 attention sinks)
   */
  constructor(inner: KVCache, sink?: LayerErrorSums[], skipTokens = inner.preset.policy.sinkTokens) {
    this.#inner = inner;
    this.#keys = Array.from({ length: inner.layout.layers }, () => new Growable());
    this.#values = Array.from({ length: inner.layout.layers }, () => new Growable());
    this.#skip = skipTokens;
    this.#sink = sink;
  }

  get layout(): KVLayout {
    return this.#inner.layout;
  }
  get preset(): PresetConfig {
    return this.#inner.preset;
  }
  get length(): number {
    return this.#inner.length;
  }
  append(layer: number, keys: Float32Array, values: Float32Array, tokens: number): void {
    this.#inner.append(layer, keys, values, tokens);
    this.#keys[layer]!.push(keys);
    this.#values[layer]!.push(values);
  }
  reconstruct(layer: number): { keys: Float32Array; values: Float32Array } {
    return this.#inner.reconstruct(layer);
  }
  attention(layer: number, query: Float32Array, qTokens: number, qStart: number): Float32Array {
    return this.#inner.attention(layer, query, qTokens, qStart);
  }
  observeAttention(layer: number, weights: Float32Array): void {
    this.#inner.observeAttention(layer, weights);
  }
  truncate(length: number): void {
    this.#inner.truncate(length);
    const c = this.layout.kvHeads * this.layout.headDim;
    for (const g of [...this.#keys, ...this.#values]) g.length = Math.min(g.length, length * c);
  }
  fork(): KVCache {
    return this.#inner.fork();
  }
  stats(): CacheStats {
    return this.#inner.stats();
  }
  memoryBytes(): number {
    return this.#inner.memoryBytes();
  }
  serialize(): Uint8Array {
    return this.#inner.serialize();
  }

  /** Adds Σ(rec − true)² and Σ true² of every layer (tokens after the skipped sinks) to `sums`. */
  addErrors(sums: LayerErrorSums[]): void {
    const c = this.layout.kvHeads * this.layout.headDim;
    const from = this.#skip * c;
    for (let l = 0; l < this.layout.layers; l++) {
      const rec = this.#inner.reconstruct(l);
      const s = sums[l]!;
      const k = this.#keys[l]!;
      const v = this.#values[l]!;
      for (let i = from; i < k.length; i++) {
        const t = k.data[i]!;
        const d = rec.keys[i]! - t;
        s.keyErr += d * d;
        s.keyRef += t * t;
      }
      for (let i = from; i < v.length; i++) {
        const t = v.data[i]!;
        const d = rec.values[i]! - t;
        s.valueErr += d * d;
        s.valueRef += t * t;
      }
    }
  }

  /** Per-layer relative errors of what this cache holds now. */
  layerErrors(): LayerError[] {
    const sums = emptyErrorSums(this.layout.layers);
    this.addErrors(sums);
    return relativeErrors(sums);
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    try {
      if (this.#sink) this.addErrors(this.#sink);
    } finally {
      this.#inner.dispose();
    }
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}
