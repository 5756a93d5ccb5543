import { DisposedError } from '@kvq/core';
import { requireCuda } from './context.js';
import { cuda } from './errors.js';
import type { DevicePtr, NativeAddon } from './native.js';

/**
 * A block of device memory (cudaMalloc), freed by {@link DeviceBuffer.dispose} or `using`.
 * Allocation failure throws OutOfMemoryError.
 */
export class DeviceBuffer implements Disposable {
  readonly bytes: number;
  #ptr: DevicePtr | undefined;
  readonly #addon: NativeAddon;

  /** Allocates `bytes` bytes of device memory. */
  constructor(bytes: number) {
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`DeviceBuffer: bad size ${bytes}`);
    this.#addon = requireCuda().addon;
    this.bytes = bytes;
    this.#ptr = cuda('cudaMalloc', () => this.#addon.malloc(bytes), bytes);
  }

  /** Allocates a buffer holding a copy of `data`. */
  static from(data: ArrayBufferView): DeviceBuffer {
    const b = new DeviceBuffer(data.byteLength);
    try {
      b.write(data);
    } catch (err) {
      b.dispose();
      throw err;
    }
    return b;
  }

  /** The device address; throws DisposedError after dispose(). */
  get ptr(): DevicePtr {
    if (this.#ptr === undefined) throw new DisposedError('DeviceBuffer');
    return this.#ptr;
  }

  get disposed(): boolean {
    return this.#ptr === undefined;
  }

  /** Copies `data` to the device at byte `offset`. */
  write(data: ArrayBufferView, offset = 0): void {
    if (offset + data.byteLength > this.bytes) throw new RangeError('DeviceBuffer.write past the end');
    const p = this.ptr;
    cuda('cudaMemcpy H2D', () => this.#addon.h2d(p, data, offset));
  }

  /** Copies device bytes from `offset` into `out` (synchronizes). */
  read<T extends ArrayBufferView>(out: T, offset = 0): T {
    if (offset + out.byteLength > this.bytes) throw new RangeError('DeviceBuffer.read past the end');
    const p = this.ptr;
    cuda('cudaMemcpy D2H', () => this.#addon.d2h(p, out, offset));
    return out;
  }

  /** Frees the memory. Idempotent. */
  dispose(): void {
    if (this.#ptr === undefined) return;
    const p = this.#ptr;
    this.#ptr = undefined;
    cuda('cudaFree', () => this.#addon.free(p));
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * A device array that grows by appending, reallocating by doubling (create/append/dispose is what
 * the memory test cycles through).
 */
export class DeviceArray implements Disposable {
  #buf: DeviceBuffer | undefined;
  #length = 0;

  constructor(initialBytes = 256) {
    this.#buf = new DeviceBuffer(initialBytes);
  }

  /** Bytes in use. */
  get length(): number {
    return this.#length;
  }

  get buffer(): DeviceBuffer {
    if (!this.#buf) throw new DisposedError('DeviceArray');
    return this.#buf;
  }

  /** Appends `data`, growing the allocation when needed. */
  append(data: ArrayBufferView): void {
    const buf = this.buffer;
    const need = this.#length + data.byteLength;
    if (need > buf.bytes) {
      const next = new DeviceBuffer(Math.max(need, buf.bytes * 2));
      try {
        if (this.#length > 0) {
          const { addon } = requireCuda();
          cuda('cudaMemcpy D2D', () => addon.d2d(next.ptr, buf.ptr, this.#length));
        }
      } catch (err) {
        next.dispose();
        throw err;
      }
      buf.dispose();
      this.#buf = next;
    }
    this.buffer.write(data, this.#length);
    this.#length = need;
  }

  dispose(): void {
    this.#buf?.dispose();
    this.#buf = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
