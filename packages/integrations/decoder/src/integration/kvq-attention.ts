import type { KVCache, RopeConfig } from '@kvq/core';
import { RopeTable } from '../kernels/rope.js';
import { WasmMatmul } from '../kernels/wasm-matmul.js';
import { attendThroughCache } from './attend-through-cache.js';

/**
 * The custom-decoder integration: a decoder keeps its K/V in a kvq cache (any {@link KVCache},
 * e.g. `createCache({ layout, preset: 'k4v2' })` from @kvq/core) and calls {@link forward} in
 * each attention layer with the new tokens' pre-RoPE q/k/v. Earlier tokens are read back
 * compressed-and-reconstructed, the new ones are used in full precision and then appended.
 */
export class KvqAttention {
  readonly #rope: RopeTable;
  readonly #matmul: WasmMatmul | undefined;

  /**
   * @param cache the cache holding this sequence's K/V
   * @param rope the model's RoPE (theta, rotated dims, `interleaved` for GGUF/llama.cpp weights,
   *   `neox` for HF weights)
   */
  constructor(
    readonly cache: KVCache,
    rope: RopeConfig,
  ) {
    this.#rope = new RopeTable(rope, cache.layout.headDim);
    this.#matmul = WasmMatmul.available() ? new WasmMatmul(0, 1 << 20) : undefined;
  }

  /** Tokens in the cache (positions of the next chunk start here once every layer appended). */
  get length(): number {
    return this.cache.length;
  }

  /**
   * Attention output `[tokens, queryHeads, headDim]` of layer `layer` for `tokens` new tokens with
   * pre-RoPE `query` `[tokens, queryHeads, headDim]`, `keys`/`values` `[tokens, kvHeads, headDim]`;
   * appends keys and values to the cache. Call layers in order 0, 1, … for each chunk.
   */
  forward(
    layer: number,
    query: Float32Array,
    keys: Float32Array,
    values: Float32Array,
    tokens: number,
  ): Float32Array {
    return attendThroughCache({
      cache: this.cache,
      layout: this.cache.layout,
      rope: this.#rope,
      layer,
      query,
      keys,
      values,
      tokens,
      matmul: this.#matmul ? this.#matmul.matmul.bind(this.#matmul) : undefined,
    });
  }

  /** Reconstructed (decompressed) pre-RoPE keys and values of a layer, `[length, kvHeads, headDim]`. */
  reconstruct(layer: number): { keys: Float32Array; values: Float32Array } {
    return this.cache.reconstruct(layer);
  }
}
