import {
  type CacheStats,
  CorruptFileError,
  DisposedError,
  InvalidArgumentError,
  type KVCache,
  type KVLayout,
  type PresetConfig,
  type RopeConfig,
  ShapeError,
  channels,
  validateLayout,
} from '@kvq/core';
import { RopeTable } from '../kernels/rope.js';
import { chunkAttention } from '../llama/attention.js';

/**
 * The preset an {@link ArrayKVCache} reports. kvq's QuantizerSpec has no fp32 kind, so the
 * quantizers say fp16 only to satisfy the type: this cache stores fp32 and never quantizes
 * (its stats report 32 bits per value).
 */
export const ARRAY_CACHE_PRESET: PresetConfig = {
  name: 'fp32-array',
  description: 'plain fp32 arrays, no compression (reference cache of @kvq/decoder)',
  quantizers: { keys: { kind: 'fp16' }, values: { kind: 'fp16' } },
  predictor: 'none',
  policy: { sinkTokens: 0, bufferTokens: 0 },
};

const MAGIC = 0x41515646; // "FVQA"

/**
 * An uncompressed KV cache in growable fp32 arrays, implementing {@link KVCache}: the reference
 * the compressed caches are compared against. Keys are stored as given (pre-RoPE); `rope`, when
 * given, is applied to keys in {@link attention}.
 */
export class ArrayKVCache implements KVCache {
  readonly preset = ARRAY_CACHE_PRESET;
  readonly layout: KVLayout;
  readonly #c: number;
  readonly #rope: RopeTable | null;
  #keys: Float32Array[];
  #values: Float32Array[];
  #lengths: number[];
  #disposed = false;

  constructor(
    layout: KVLayout,
    readonly rope?: RopeConfig,
  ) {
    this.layout = validateLayout(layout);
    this.#c = channels(layout);
    this.#rope = rope ? new RopeTable(rope, layout.headDim) : null;
    this.#keys = Array.from({ length: layout.layers }, () => new Float32Array(0));
    this.#values = Array.from({ length: layout.layers }, () => new Float32Array(0));
    this.#lengths = new Array(layout.layers).fill(0);
  }

  get length(): number {
    this.#check();
    return Math.min(...this.#lengths);
  }

  #check(): void {
    if (this.#disposed) throw new DisposedError('ArrayKVCache');
  }

  #layer(layer: number): void {
    this.#check();
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.layout.layers) {
      throw new InvalidArgumentError(`layer ${layer} is outside 0..${this.layout.layers - 1}`);
    }
  }

  append(layer: number, keys: Float32Array, values: Float32Array, tokens: number): void {
    this.#layer(layer);
    const n = tokens * this.#c;
    const shape = [tokens, this.layout.kvHeads, this.layout.headDim];
    if (!(keys instanceof Float32Array) || keys.length !== n)
      throw new ShapeError('append keys', shape, [keys.length]);
    if (!(values instanceof Float32Array) || values.length !== n)
      throw new ShapeError('append values', shape, [values.length]);
    const len = this.#lengths[layer]!;
    const need = (len + tokens) * this.#c;
    if (need > this.#keys[layer]!.length) {
      const cap = Math.max(need, this.#keys[layer]!.length * 2);
      const k = new Float32Array(cap);
      const v = new Float32Array(cap);
      k.set(this.#keys[layer]!.subarray(0, len * this.#c));
      v.set(this.#values[layer]!.subarray(0, len * this.#c));
      this.#keys[layer] = k;
      this.#values[layer] = v;
    }
    this.#keys[layer]!.set(keys, len * this.#c);
    this.#values[layer]!.set(values, len * this.#c);
    this.#lengths[layer] = len + tokens;
  }

  reconstruct(layer: number): { keys: Float32Array; values: Float32Array } {
    this.#layer(layer);
    const n = this.length * this.#c;
    return { keys: this.#keys[layer]!.slice(0, n), values: this.#values[layer]!.slice(0, n) };
  }

  attention(layer: number, query: Float32Array, qTokens: number, qStart: number): Float32Array {
    this.#layer(layer);
    const { queryHeads, kvHeads, headDim } = this.layout;
    const kTokens = qStart + qTokens;
    if (query.length !== qTokens * queryHeads * headDim) {
      throw new ShapeError('attention query', [qTokens, queryHeads, headDim], [query.length]);
    }
    if (kTokens > this.#lengths[layer]!) {
      throw new InvalidArgumentError(
        `attention: queries reach position ${kTokens - 1}, the cache holds ${this.#lengths[layer]} tokens`,
      );
    }
    const keys = this.#keys[layer]!.slice(0, kTokens * this.#c);
    if (this.#rope) this.#rope.apply(keys, kTokens, kvHeads, 0);
    const values = this.#values[layer]!.subarray(0, kTokens * this.#c);
    return chunkAttention({ query, qTokens, queryHeads, kvHeads, headDim, keys, values, kTokens });
  }

  /** Accepted and ignored: an uncompressed cache has no precision to choose. */
  observeAttention(layer: number, _weights: Float32Array): void {
    this.#layer(layer);
  }

  truncate(length: number): void {
    this.#check();
    if (!Number.isInteger(length) || length < 0 || length > this.length) {
      throw new InvalidArgumentError(`truncate: length ${length} is outside 0..${this.length}`);
    }
    this.#lengths = this.#lengths.map(() => length);
  }

  fork(): ArrayKVCache {
    this.#check();
    const f = new ArrayKVCache(this.layout, this.rope);
    f.#keys = this.#keys.map((k) => k.slice());
    f.#values = this.#values.map((v) => v.slice());
    f.#lengths = [...this.#lengths];
    return f;
  }

  stats(): CacheStats {
    const tokens = this.length;
    const values = tokens * this.layout.layers * this.#c * 2;
    return {
      tokens,
      values,
      bitsPerValue: 32,
      storedBitsPerValue: 32,
      bytes: values * 4,
      fp16Bytes: values * 2,
      bitsK: 32,
      bitsV: 32,
    };
  }

  memoryBytes(): number {
    this.#check();
    return (
      this.#keys.reduce((a, k) => a + k.byteLength, 0) + this.#values.reduce((a, v) => a + v.byteLength, 0)
    );
  }

  /**
   * Layout: u32 magic "FVQA", u32 layers, queryHeads, kvHeads, headDim, length, then per layer
   * keys and values `[length, kvHeads, headDim]` fp32 little-endian. Read with {@link deserialize}.
   */
  serialize(): Uint8Array {
    const len = this.length;
    const { layers, queryHeads, kvHeads, headDim } = this.layout;
    const per = len * this.#c;
    const out = new Uint8Array(24 + layers * per * 8);
    const dv = new DataView(out.buffer);
    [MAGIC, layers, queryHeads, kvHeads, headDim, len].forEach((v, i) => dv.setUint32(i * 4, v, true));
    const f = new Float32Array(out.buffer, 24);
    for (let l = 0; l < layers; l++) {
      f.set(this.#keys[l]!.subarray(0, per), l * 2 * per);
      f.set(this.#values[l]!.subarray(0, per), (l * 2 + 1) * per);
    }
    return out;
  }

  /** Reads what {@link serialize} wrote. */
  static deserialize(bytes: Uint8Array, rope?: RopeConfig): ArrayKVCache {
    if (bytes.byteLength < 24)
      throw new CorruptFileError('ArrayKVCache snapshot', `truncated: ${bytes.byteLength} bytes`);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const [magic, layers, queryHeads, kvHeads, headDim, len] = [0, 1, 2, 3, 4, 5].map((i) =>
      dv.getUint32(i * 4, true),
    );
    if (magic !== MAGIC) throw new CorruptFileError('ArrayKVCache snapshot', 'bad magic');
    const cache = new ArrayKVCache(
      { layers: layers!, queryHeads: queryHeads!, kvHeads: kvHeads!, headDim: headDim! },
      rope,
    );
    const per = len! * kvHeads! * headDim!;
    if (bytes.byteLength !== 24 + layers! * per * 8) {
      throw new CorruptFileError(
        'ArrayKVCache snapshot',
        `expected ${24 + layers! * per * 8} bytes, got ${bytes.byteLength}`,
      );
    }
    const f = new Float32Array(bytes.slice(24).buffer);
    for (let l = 0; l < layers!; l++) {
      cache.append(
        l,
        f.slice(l * 2 * per, (l * 2 + 1) * per),
        f.slice((l * 2 + 1) * per, (l * 2 + 2) * per),
        len!,
      );
    }
    return cache;
  }

  dispose(): void {
    this.#keys = [];
    this.#values = [];
    this.#disposed = true;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
