import { InvalidArgumentError } from '@kvq/core';
import type { ByteStore } from './types.js';

/** Options of {@link MemoryLruStore}. */
export interface MemoryLruOptions {
  /** total bytes of values kept; least recently used values are evicted beyond it */
  readonly maxBytes: number;
}

/** An in-process LRU byte store with a byte budget. A value larger than the budget is not kept. */
export class MemoryLruStore implements ByteStore {
  readonly maxBytes: number;
  #bytes = 0;
  readonly #map = new Map<string, Uint8Array>();

  constructor(options: MemoryLruOptions) {
    if (!Number.isFinite(options?.maxBytes) || options.maxBytes < 0)
      throw new InvalidArgumentError(`maxBytes must be a non-negative number, got ${options?.maxBytes}`);
    this.maxBytes = options.maxBytes;
  }

  /** bytes held now */
  get bytes(): number {
    return this.#bytes;
  }

  /** keys held now, least recently used first */
  keys(): string[] {
    return [...this.#map.keys()];
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const v = this.#map.get(key);
    if (v === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, v);
    return v;
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    await this.delete(key);
    if (value.byteLength > this.maxBytes) return;
    const copy = value.slice();
    this.#map.set(key, copy);
    this.#bytes += copy.byteLength;
    for (const [k, v] of this.#map) {
      if (this.#bytes <= this.maxBytes) break;
      this.#map.delete(k);
      this.#bytes -= v.byteLength;
    }
  }

  async has(key: string): Promise<boolean> {
    return this.#map.has(key);
  }

  async delete(key: string): Promise<void> {
    const v = this.#map.get(key);
    if (v === undefined) return;
    this.#map.delete(key);
    this.#bytes -= v.byteLength;
  }

  async close(): Promise<void> {
    this.#map.clear();
    this.#bytes = 0;
  }
}
