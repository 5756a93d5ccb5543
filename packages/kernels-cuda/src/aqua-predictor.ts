import {
  type AquaAdapters,
  DisposedError,
  InvalidArgumentError,
  type KVLayout,
  type Predictor,
  channels,
  validateAdapters,
  valuePredictorInput,
} from '@kvq/core';
import { requireCuda } from './context.js';
import { DeviceBuffer } from './device-buffer.js';
import { cuda } from './errors.js';
import type { DevicePtr, NativeAddon } from './native.js';

/** One layer's adapter weights on the device (fp32, the layouts of `LayerAdapter`). */
interface DeviceLayer {
  readonly keyWeight: DeviceBuffer;
  readonly keyBias: DeviceBuffer;
  readonly valueWeight: DeviceBuffer;
  readonly valueBias: DeviceBuffer;
}

/** byte offsets inside the scratch buffer start at multiples of this */
const ALIGN = 256;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/**
 * AQUA-KV's predictor (see core's `aquaPredictor`) computed with the CUDA fp32 linear kernel:
 * K̂_l = K̃_{l−1}·Wkᵀ + bk and V̂_l = [K̃_l, Ṽ_{l−1}]·Wvᵀ + bv for layers l ≥ 1, `null` for layer 0.
 *
 * Every layer's weights and biases are uploaded once, at construction, into device buffers the
 * predictor owns (plus one scratch buffer, grown as needed); {@link dispose} (or `using`) frees them,
 * and any use after that throws DisposedError.
 *
 * - {@link predictKeys} / {@link predictValues} implement core's `Predictor` on host arrays (upload,
 *   linear kernel, download), so it can be passed as the `predictor` option of a
 *   `CompressedKVCache` (with the same `adapters`).
 * - {@link predictKeysDevice} / {@link predictValuesDevice} take and fill {@link DeviceBuffer}s, for
 *   callers that keep K/V on the GPU; they are asynchronous on the default stream (like the other
 *   kernels; reading `out` back synchronizes).
 *
 * Results equal the CPU predictor's up to fp32 summation order (relative L2 difference ≈ 1e-7).
 * All tensors are `[tokens, C]` row-major fp32 with C = kvHeads × headDim.
 */
export class CudaAquaPredictor implements Predictor, Disposable {
  readonly kind = 'aqua' as const;
  readonly layout: KVLayout;
  /** the adapters the weights were uploaded from (pass the same to the cache: it records them) */
  readonly adapters: AquaAdapters;
  /** C = kvHeads × headDim */
  readonly channels: number;
  readonly #addon: NativeAddon;
  #layers: (DeviceLayer | null)[] | undefined;
  #scratch: DeviceBuffer | undefined;

  /**
   * Validates `adapters` against `layout` (core's `validateAdapters`: AdapterMismatchError) and
   * uploads them. Throws BackendUnavailableError (with the reason) where CUDA cannot be used, and
   * OutOfMemoryError when the weights do not fit (nothing stays allocated then).
   */
  constructor(adapters: AquaAdapters, layout: KVLayout) {
    validateAdapters(adapters, layout);
    this.#addon = requireCuda().addon;
    this.layout = layout;
    this.adapters = adapters;
    this.channels = channels(layout);
    const layers: (DeviceLayer | null)[] = [];
    const owned: DeviceBuffer[] = [];
    const upload = (data: Float32Array) => {
      const b = DeviceBuffer.from(data);
      owned.push(b);
      return b;
    };
    try {
      for (const a of adapters.layers) {
        layers.push(
          a === null
            ? null
            : {
                keyWeight: upload(a.keyWeight),
                keyBias: upload(a.keyBias),
                valueWeight: upload(a.valueWeight),
                valueBias: upload(a.valueBias),
              },
        );
      }
    } catch (err) {
      for (const b of owned) b.dispose();
      throw err;
    }
    this.#layers = layers;
  }

  /** Whether {@link dispose} was called. */
  get disposed(): boolean {
    return this.#layers === undefined;
  }

  /** Device bytes held now: the uploaded adapters and the scratch buffer. */
  get deviceBytes(): number {
    let n = this.#scratch?.bytes ?? 0;
    for (const l of this.#live()) {
      if (l) n += l.keyWeight.bytes + l.keyBias.bytes + l.valueWeight.bytes + l.valueBias.bytes;
    }
    return n;
  }

  #live(): (DeviceLayer | null)[] {
    if (!this.#layers) throw new DisposedError('CudaAquaPredictor');
    return this.#layers;
  }

  /** The layer's device weights (null for layer 0); checks `layer` and `tokens`. */
  #layer(what: string, layer: number, tokens: number): DeviceLayer | null {
    const layers = this.#live();
    if (!Number.isInteger(layer) || layer < 0 || layer >= layers.length) {
      throw new InvalidArgumentError(
        `CudaAquaPredictor.${what}: layer must be an integer in 0..${layers.length - 1}, got ${layer}`,
      );
    }
    if (!Number.isInteger(tokens) || tokens < 0) {
      throw new InvalidArgumentError(
        `CudaAquaPredictor.${what}: tokens must be an integer ≥ 0, got ${tokens}`,
      );
    }
    return layers[layer]!;
  }

  #checkHost(what: string, name: string, x: Float32Array, tokens: number): void {
    const n = tokens * this.channels;
    if (!(x instanceof Float32Array) || x.length !== n) {
      throw new InvalidArgumentError(
        `CudaAquaPredictor.${what}: ${name} must hold tokens × C = ${tokens} × ${this.channels} = ${n} fp32 values, got ${
          x instanceof Float32Array ? x.length : typeof x
        }`,
      );
    }
  }

  #checkDevice(what: string, name: string, b: DeviceBuffer, tokens: number): void {
    if (!(b instanceof DeviceBuffer)) {
      throw new InvalidArgumentError(`CudaAquaPredictor.${what}: ${name} must be a DeviceBuffer`);
    }
    const need = tokens * this.channels * 4;
    if (b.bytes < need) {
      throw new InvalidArgumentError(
        `CudaAquaPredictor.${what}: ${name} holds ${b.bytes} bytes, expected at least ${need} (tokens × C × 4 = ${tokens} × ${this.channels} × 4)`,
      );
    }
  }

  /** A device scratch buffer of at least `bytes` bytes, reused across calls and grown by doubling. */
  #scratchPtr(bytes: number): DevicePtr {
    if (!this.#scratch || this.#scratch.bytes < bytes) {
      const size = Math.max(bytes, 2 * (this.#scratch?.bytes ?? 0));
      this.#scratch?.dispose();
      this.#scratch = undefined;
      this.#scratch = new DeviceBuffer(size);
    }
    return this.#scratch.ptr;
  }

  /** y[tokens, C] = x[tokens, inDim]·wᵀ + b on the device */
  #linear(x: DevicePtr, w: DeviceBuffer, b: DeviceBuffer, y: DevicePtr, tokens: number, inDim: number) {
    const c = this.channels;
    cuda('linear', () => this.#addon.linear(x, w.ptr, b.ptr, y, tokens, inDim, c));
  }

  /** [tokens, 2C] rows of [keys | prevValues] at x */
  #concat(x: DevicePtr, keys: DevicePtr, prevValues: DevicePtr, tokens: number) {
    const row = this.channels * 4;
    cuda('cudaMemcpy2D D2D', () => this.#addon.d2d2D(x, 2 * row, keys, row, row, tokens));
    cuda('cudaMemcpy2D D2D', () => this.#addon.d2d2D(x + BigInt(row), 2 * row, prevValues, row, row, tokens));
  }

  /**
   * K̂_layer = prevKeys·Wkᵀ + bk (`[tokens, C]`), or null for layer 0 or when `prevKeys` is null —
   * what core's CPU `aquaPredictor` returns. Throws InvalidArgumentError for a layer out of range or
   * `prevKeys` not of `tokens × C` values.
   */
  predictKeys(layer: number, prevKeys: Float32Array | null, tokens: number): Float32Array | null {
    const a = this.#layer('predictKeys', layer, tokens);
    if (!a || !prevKeys) return null;
    this.#checkHost('predictKeys', 'prevKeys', prevKeys, tokens);
    const c = this.channels;
    const y = new Float32Array(tokens * c);
    if (tokens === 0) return y;
    const yOff = align(y.byteLength);
    const x = this.#scratchPtr(2 * yOff);
    cuda('cudaMemcpy H2D', () => this.#addon.h2d(x, prevKeys));
    this.#linear(x, a.keyWeight, a.keyBias, x + BigInt(yOff), tokens, c);
    cuda('cudaMemcpy D2H', () => this.#addon.d2h(x, y, yOff));
    return y;
  }

  /**
   * V̂_layer = [keys, prevValues]·Wvᵀ + bv (`[tokens, C]`), or null for layer 0 or when `prevValues`
   * is null — what core's CPU `aquaPredictor` returns (`keys` are the layer's reconstructed keys).
   * The concatenation is done on the host. Throws InvalidArgumentError for a layer out of range or
   * inputs not of `tokens × C` values.
   */
  predictValues(
    layer: number,
    keys: Float32Array,
    prevValues: Float32Array | null,
    tokens: number,
  ): Float32Array | null {
    const a = this.#layer('predictValues', layer, tokens);
    if (!a || !prevValues) return null;
    this.#checkHost('predictValues', 'keys', keys, tokens);
    this.#checkHost('predictValues', 'prevValues', prevValues, tokens);
    const c = this.channels;
    const y = new Float32Array(tokens * c);
    if (tokens === 0) return y;
    const xh = valuePredictorInput(keys, prevValues, tokens, c);
    const yOff = align(xh.byteLength);
    const x = this.#scratchPtr(yOff + y.byteLength);
    cuda('cudaMemcpy H2D', () => this.#addon.h2d(x, xh));
    this.#linear(x, a.valueWeight, a.valueBias, x + BigInt(yOff), tokens, 2 * c);
    cuda('cudaMemcpy D2H', () => this.#addon.d2h(x, y, yOff));
    return y;
  }

  /**
   * {@link predictKeys} on device buffers: writes K̂_layer (`tokens × C` fp32) to the start of `out`
   * and returns true, or returns false (and leaves `out` alone) for layer 0. Buffers must hold at
   * least `tokens × C × 4` bytes (only that prefix is read / written), and `out` must not be
   * `prevKeys`; otherwise InvalidArgumentError.
   */
  predictKeysDevice(layer: number, prevKeys: DeviceBuffer, tokens: number, out: DeviceBuffer): boolean {
    const what = 'predictKeysDevice';
    const a = this.#layer(what, layer, tokens);
    this.#checkDevice(what, 'prevKeys', prevKeys, tokens);
    this.#checkDevice(what, 'out', out, tokens);
    if (out.ptr === prevKeys.ptr)
      throw new InvalidArgumentError(`CudaAquaPredictor.${what}: out must not be prevKeys`);
    if (!a) return false;
    if (tokens > 0) this.#linear(prevKeys.ptr, a.keyWeight, a.keyBias, out.ptr, tokens, this.channels);
    return true;
  }

  /**
   * {@link predictValues} on device buffers: writes V̂_layer (`tokens × C` fp32) to the start of
   * `out` and returns true, or returns false (and leaves `out` alone) for layer 0. `[keys,
   * prevValues]` is assembled in the predictor's scratch buffer by two strided device copies.
   * Buffers must hold at least `tokens × C × 4` bytes (only that prefix is read / written);
   * otherwise InvalidArgumentError.
   */
  predictValuesDevice(
    layer: number,
    keys: DeviceBuffer,
    prevValues: DeviceBuffer,
    tokens: number,
    out: DeviceBuffer,
  ): boolean {
    const what = 'predictValuesDevice';
    const a = this.#layer(what, layer, tokens);
    this.#checkDevice(what, 'keys', keys, tokens);
    this.#checkDevice(what, 'prevValues', prevValues, tokens);
    this.#checkDevice(what, 'out', out, tokens);
    if (!a) return false;
    if (tokens === 0) return true;
    const c = this.channels;
    const x = this.#scratchPtr(tokens * 2 * c * 4);
    this.#concat(x, keys.ptr, prevValues.ptr, tokens);
    this.#linear(x, a.valueWeight, a.valueBias, out.ptr, tokens, 2 * c);
    return true;
  }

  /** Frees the device memory (weights and scratch). Idempotent. */
  dispose(): void {
    const layers = this.#layers;
    if (!layers) return;
    this.#layers = undefined;
    const buffers: DeviceBuffer[] = [];
    if (this.#scratch) buffers.push(this.#scratch);
    this.#scratch = undefined;
    for (const l of layers) if (l) buffers.push(l.keyWeight, l.keyBias, l.valueWeight, l.valueBias);
    let first: unknown;
    for (const b of buffers) {
      try {
        b.dispose();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Creates a {@link CudaAquaPredictor}: validates `adapters` for `layout` and uploads them to the
 * GPU. Throws BackendUnavailableError where CUDA cannot be used.
 *
 * @example
 * ```ts
 * using predictor = createCudaAquaPredictor(adapters, layout);
 * const cache = createCache({ layout, preset: 'aqua-2.5', adapters, predictor });
 * ```
 */
export function createCudaAquaPredictor(adapters: AquaAdapters, layout: KVLayout): CudaAquaPredictor {
  return new CudaAquaPredictor(adapters, layout);
}
