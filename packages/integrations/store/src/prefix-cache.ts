import {
  type AquaAdapters,
  BackendUnavailableError,
  type CompressedKVCache,
  InvalidArgumentError,
  type KVCache,
  type KVLayout,
  deserializeCache,
} from '@kvq/core';
import { DEFAULT_CHUNK_TOKENS, type PrefixIdentity, chunkKeys } from './prefix/chunk-keys.js';
import { unwrapValue, wrapValue } from './prefix/envelope.js';
import type { ByteStore } from './store/types.js';

/** Options of {@link PrefixCache}. */
export interface PrefixCacheOptions {
  readonly store: ByteStore;
  /** model / adapter / preset identity; part of every key */
  readonly identity: PrefixIdentity;
  /** layout every returned cache must have (checked after decoding) */
  readonly layout: KVLayout;
  /** adapters for AQUA presets (passed to deserializeCache) */
  readonly adapters?: AquaAdapters;
  /** tokens per chunk (default 256) */
  readonly chunkTokens?: number;
  /**
   * time budget in ms (default 2000): all backend operations of one `lookup` together (past it the
   * lookup is a miss), and each write of `store` (past it that write is skipped). Decoding a found
   * value is CPU work and not counted.
   */
  readonly deadlineMs?: number;
  /** called with every backend error or timeout that was turned into a miss */
  readonly onError?: (error: unknown) => void;
}

/** What {@link PrefixCache.lookup} found. */
export interface PrefixLookup {
  /** tokens covered by `cache` (a multiple of the chunk size; 0 when nothing was found) */
  readonly tokens: number;
  /** the restored cache, or undefined on a miss */
  readonly cache: CompressedKVCache | undefined;
  /** values found but rejected (wrong key, corrupt, truncated, other identity) and deleted */
  readonly rejected: number;
}

/** What {@link PrefixCache.store} wrote. */
export interface PrefixStoreResult {
  readonly written: number;
  readonly skipped: number;
  readonly bytes: number;
}

async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, reject) => {
        timer = setTimeout(
          () => reject(new BackendUnavailableError('prefix store', `no answer within ${Math.round(ms)} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A content-keyed prefix cache. Design: at every chunk boundary b (b = k·chunkTokens) the value
 * stored is a **cumulative snapshot**: the whole cache truncated to b tokens, serialized in the
 * `.kvq` snapshot format and wrapped with its key, token count and CRC-32. A lookup tries the
 * longest boundary first and stops at the first valid value, so one read restores the cache.
 * Byte cost: for a prompt of n full chunks the store holds n snapshots of 1..n chunks, i.e.
 * about (n+1)/2 × the size of the compressed cache of the whole prefix (plus per-snapshot
 * headers). This trades storage for single-read restores.
 */
export class PrefixCache {
  readonly backend: ByteStore;
  readonly identity: PrefixIdentity;
  readonly layout: KVLayout;
  readonly chunkTokens: number;
  readonly deadlineMs: number;
  readonly #adapters: AquaAdapters | undefined;
  readonly #onError: (error: unknown) => void;

  constructor(options: PrefixCacheOptions) {
    if (!options?.store) throw new InvalidArgumentError('store is required');
    this.backend = options.store;
    this.identity = options.identity;
    this.layout = options.layout;
    this.chunkTokens = options.chunkTokens ?? DEFAULT_CHUNK_TOKENS;
    this.deadlineMs = options.deadlineMs ?? 2000;
    if (!(this.deadlineMs > 0)) throw new InvalidArgumentError('deadlineMs must be positive');
    this.#adapters = options.adapters;
    this.#onError = options.onError ?? (() => {});
    chunkKeys(this.identity, [], this.chunkTokens); // validates identity and chunk size
  }

  /** Keys of the full chunks of `tokens`. */
  keys(tokens: ArrayLike<number>): string[] {
    return chunkKeys(this.identity, tokens, this.chunkTokens);
  }

  async #op<T>(p: () => Promise<T>, ms = this.deadlineMs): Promise<{ ok: true; value: T } | { ok: false }> {
    try {
      if (!(ms > 0))
        throw new BackendUnavailableError('prefix store', `lookup past its ${this.deadlineMs} ms deadline`);
      return { ok: true, value: await withDeadline(p(), ms) };
    } catch (e) {
      this.#onError(e);
      return { ok: false };
    }
  }

  /**
   * The longest stored prefix of `tokens` and its restored cache. Reads the longest chunk's key
   * first (one round trip on a full hit); when it is absent, asks for every shorter key at once and
   * reads the present ones longest first. Invalid values are deleted and the next shorter tried.
   * Never throws on backend errors: an error, or the backend operations together running past
   * `deadlineMs`, is a miss.
   */
  async lookup(tokens: ArrayLike<number>): Promise<PrefixLookup> {
    const keys = this.keys(tokens);
    const end = performance.now() + this.deadlineMs;
    const left = () => end - performance.now();
    let rejected = 0;
    const miss = (): PrefixLookup => ({ tokens: 0, cache: undefined, rejected });
    // candidates, longest first: the longest key, then (if it is absent) the shorter ones present
    let candidates: number[] = keys.length > 0 ? [keys.length - 1] : [];
    let probed = false;
    while (candidates.length > 0) {
      const i = candidates.shift() as number;
      const key = keys[i] as string;
      const n = (i + 1) * this.chunkTokens;
      const got = await this.#op(() => this.backend.get(key), left());
      if (!got.ok) return miss(); // backend unavailable or past the deadline
      if (got.value !== undefined) {
        const cache = this.#decode(key, n, got.value);
        if (cache) return { tokens: n, cache, rejected };
        rejected++;
        await this.#op(() => this.backend.delete(key), left());
      }
      if (!probed && i > 0) {
        probed = true;
        const shorter = keys.slice(0, i);
        const present = await this.#op(() => Promise.all(shorter.map((k) => this.backend.has(k))), left());
        if (!present.ok) return miss();
        candidates = [];
        for (let j = i - 1; j >= 0; j--) if (present.value[j]) candidates.push(j);
      }
    }
    return miss();
  }

  #decode(key: string, n: number, value: Uint8Array): CompressedKVCache | undefined {
    const snap = unwrapValue(key, n, value);
    if (!snap) return undefined;
    let cache: CompressedKVCache;
    try {
      cache = deserializeCache(snap, { adapters: this.#adapters });
    } catch (e) {
      this.#onError(e);
      return undefined;
    }
    const l = cache.layout;
    const ok =
      cache.length === n &&
      cache.preset.name === this.identity.preset &&
      l.layers === this.layout.layers &&
      l.kvHeads === this.layout.kvHeads &&
      l.queryHeads === this.layout.queryHeads &&
      l.headDim === this.layout.headDim;
    if (!ok) {
      cache.dispose();
      return undefined;
    }
    return cache;
  }

  /**
   * Writes a snapshot for every full chunk of `tokens` covered by `cache` (cache.length tokens,
   * which must be the cache of `tokens`' prefix) that is not stored yet. `cache` is not modified.
   * Backend errors and timeouts skip the write (reported to onError).
   */
  async store(tokens: ArrayLike<number>, cache: KVCache): Promise<PrefixStoreResult> {
    if (cache.length > tokens.length)
      throw new InvalidArgumentError(
        `cache holds ${cache.length} tokens but only ${tokens.length} were given`,
      );
    if (cache.preset.name !== this.identity.preset)
      throw new InvalidArgumentError(
        `cache preset ${cache.preset.name} is not the store's preset ${this.identity.preset}`,
      );
    const keys = this.keys(Array.prototype.slice.call(tokens, 0, cache.length) as number[]);
    let written = 0;
    let skipped = 0;
    let bytes = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const n = (i + 1) * this.chunkTokens;
      const has = await this.#op(() => this.backend.has(key));
      if (!has.ok || has.value) {
        skipped++;
        continue;
      }
      const part = cache.fork();
      let value: Uint8Array;
      try {
        part.truncate(n);
        value = wrapValue(key, n, part.serialize());
      } finally {
        part.dispose();
      }
      const put = await this.#op(() => this.backend.set(key, value));
      if (put.ok) {
        written++;
        bytes += value.byteLength;
      } else skipped++;
    }
    return { written, skipped, bytes };
  }
}
