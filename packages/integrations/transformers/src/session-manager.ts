import type { DynamicCache } from '@huggingface/transformers';
import { InvalidArgumentError } from '@kvq/core';
import { type CompressOptions, type KvqCache, compress, restore } from './kvq-cache.js';
import type { PastKeyValues } from './past-key-values.js';

/** Options of {@link KvqSessionManager}: how to compress, and the byte budget of idle caches. */
export interface SessionManagerOptions extends CompressOptions {
  /** most bytes of compressed caches kept; the least recently used are evicted past it */
  readonly maxBytes: number;
  /** told about every eviction (to log it, or to spill the snapshot to disk) */
  readonly onEvict?: (id: string, cache: KvqCache) => void;
}

/** What a {@link KvqSessionManager} holds. */
export interface SessionManagerStats {
  readonly sessions: number;
  readonly bytes: number;
  /** what the same caches would take in fp32 (transformers.js' own tensors) */
  readonly fp32Bytes: number;
  readonly evictions: number;
}

/**
 * Many conversations' caches kept compressed while idle, under a byte budget (LRU): `put` a
 * conversation's `past_key_values` after its turn, `take` it back (restored, as a `DynamicCache`)
 * for its next turn.
 *
 * ```ts
 * const sessions = new KvqSessionManager({ model: model.config, preset: 'k4v2', maxBytes: 2 ** 30 });
 * const past = await sessions.take(chatId); // undefined on the first turn (or after eviction)
 * const out = await model.generate({ ...inputs, past_key_values: past ?? new DynamicCache() , … });
 * sessions.put(chatId, past);         // compresses and keeps it
 * ```
 */
export class KvqSessionManager {
  readonly #opts: SessionManagerOptions;
  readonly #sessions = new Map<string, KvqCache>();
  #bytes = 0;
  #evictions = 0;

  constructor(options: SessionManagerOptions) {
    if (!(Number.isFinite(options.maxBytes) && options.maxBytes > 0))
      throw new InvalidArgumentError(
        `KvqSessionManager: maxBytes must be a positive number, got ${options.maxBytes}`,
      );
    this.#opts = options;
  }

  /**
   * Compresses `pastKeyValues` and keeps it for `id` (replacing what `id` held), then evicts least
   * recently used sessions until the budget holds. Returns the compressed cache. A single cache
   * larger than the budget is an `InvalidArgumentError` (nothing is kept).
   */
  put(id: string, pastKeyValues: DynamicCache | PastKeyValues): KvqCache {
    const kvq = compress(pastKeyValues, this.#opts);
    const bytes = kvq.bytes;
    if (bytes > this.#opts.maxBytes) {
      kvq.dispose();
      throw new InvalidArgumentError(
        `KvqSessionManager: one compressed cache (${bytes} bytes) exceeds maxBytes (${this.#opts.maxBytes})`,
      );
    }
    this.delete(id);
    this.#sessions.set(id, kvq);
    this.#bytes += kvq.bytes;
    for (const [old, c] of this.#sessions) {
      if (this.#bytes <= this.#opts.maxBytes) break;
      if (old === id) continue;
      this.#sessions.delete(old);
      this.#bytes -= c.bytes;
      this.#evictions++;
      this.#opts.onEvict?.(old, c);
      if (!this.#opts.onEvict) c.dispose();
    }
    return kvq;
  }

  /** Restores `id`'s cache and removes it from the manager (the conversation is live again). */
  async take(id: string): Promise<DynamicCache | undefined> {
    const kvq = this.#sessions.get(id);
    if (!kvq) return undefined;
    const restored = await restore(kvq);
    this.delete(id);
    return restored;
  }

  /** Restores `id`'s cache and keeps it (marking it most recently used). */
  async peek(id: string): Promise<DynamicCache | undefined> {
    const kvq = this.#sessions.get(id);
    if (!kvq) return undefined;
    this.#sessions.delete(id);
    this.#sessions.set(id, kvq);
    return restore(kvq);
  }

  /** The compressed cache of `id`, if held. */
  get(id: string): KvqCache | undefined {
    return this.#sessions.get(id);
  }

  has(id: string): boolean {
    return this.#sessions.has(id);
  }

  /** Drops `id` (true when it was held). */
  delete(id: string): boolean {
    const kvq = this.#sessions.get(id);
    if (!kvq) return false;
    this.#sessions.delete(id);
    this.#bytes -= kvq.bytes;
    kvq.dispose();
    return true;
  }

  stats(): SessionManagerStats {
    let fp32 = 0;
    for (const c of this.#sessions.values()) fp32 += c.stats().fp16Bytes * 2;
    return { sessions: this.#sessions.size, bytes: this.#bytes, fp32Bytes: fp32, evictions: this.#evictions };
  }

  /** Drops every session. */
  clear(): void {
    for (const id of [...this.#sessions.keys()]) this.delete(id);
  }

  [Symbol.dispose](): void {
    this.clear();
  }
}
