/**
 * GpuBuffer: the one owner of every GPUBuffer this package creates. Sizes are checked against
 * the device's limits before creation; `dispose()` destroys the buffer and is idempotent.
 */
import { DisposedError } from '@kvq/core';
import type { GpuContext } from './context.js';
import { BufferTooLargeError } from './errors.js';

/** Usage flags (numeric, so that nothing depends on the WebGPU globals being installed). */
export const Usage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

/** Storage buffer usable as kernel input/output and copy source/destination. */
export const STORAGE_RW = Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST;

/** A GPUBuffer owned by this package. Sizes are rounded up to a multiple of 4 bytes. */
export class GpuBuffer implements Disposable {
  readonly ctx: GpuContext;
  /** Size in bytes (a multiple of 4). */
  readonly size: number;
  readonly label: string;
  #buffer: GPUBuffer | null;

  constructor(ctx: GpuContext, bytes: number, usage: number = STORAGE_RW, label = 'kvq buffer') {
    ctx.check(label);
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    if (size > ctx.limits.maxBufferSize) {
      throw new BufferTooLargeError(label, size, 'maxBufferSize', ctx.limits.maxBufferSize);
    }
    if (usage & Usage.STORAGE && size > ctx.limits.maxStorageBufferBindingSize) {
      throw new BufferTooLargeError(
        label,
        size,
        'maxStorageBufferBindingSize',
        ctx.limits.maxStorageBufferBindingSize,
      );
    }
    this.ctx = ctx;
    this.size = size;
    this.label = label;
    this.#buffer = ctx.device.createBuffer({ size, usage, label });
    ctx._track(size);
  }

  /** Creates a storage buffer holding `data` (padded with zeros to 4 bytes). */
  static from(
    ctx: GpuContext,
    data: ArrayBufferView,
    label = 'kvq buffer',
    usage: number = STORAGE_RW,
  ): GpuBuffer {
    const b = new GpuBuffer(ctx, data.byteLength, usage, label);
    b.write(data);
    return b;
  }

  /** The underlying GPUBuffer. @throws {@link DisposedError} after dispose(). */
  get buffer(): GPUBuffer {
    if (!this.#buffer) throw new DisposedError(this.label);
    return this.#buffer;
  }

  get disposed(): boolean {
    return this.#buffer === null;
  }

  /** Writes `data` at byte `offset` (queue.writeBuffer; a tail that is not a multiple of 4 is zero-padded). */
  write(data: ArrayBufferView, offset = 0): void {
    const buf = this.buffer;
    const n = data.byteLength;
    if (n === 0) return;
    if (n % 4 === 0) {
      this.ctx.device.queue.writeBuffer(buf, offset, data.buffer, data.byteOffset, n);
      return;
    }
    const padded = new Uint8Array(Math.ceil(n / 4) * 4);
    padded.set(new Uint8Array(data.buffer, data.byteOffset, n));
    this.ctx.device.queue.writeBuffer(buf, offset, padded);
  }

  /** Copies `bytes` bytes (default all) back to the host. */
  async read(bytes = this.size, offset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = new GpuBuffer(this.ctx, size, Usage.MAP_READ | Usage.COPY_DST, `${this.label} (staging)`);
    try {
      const enc = this.ctx.device.createCommandEncoder();
      enc.copyBufferToBuffer(this.buffer, offset, staging.buffer, 0, size);
      this.ctx.device.queue.submit([enc.finish()]);
      await staging.buffer.mapAsync(0x0001);
      const out = staging.buffer.getMappedRange().slice(0, bytes);
      staging.buffer.unmap();
      return out;
    } finally {
      staging.dispose();
    }
  }

  /** Destroys the GPUBuffer. Idempotent. */
  dispose(): void {
    if (!this.#buffer) return;
    this.#buffer.destroy();
    this.#buffer = null;
    this.ctx._track(-this.size);
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** A set of buffers disposed together (temporaries of one operation). */
export class BufferScope implements Disposable {
  readonly #owned: GpuBuffer[] = [];
  constructor(readonly ctx: GpuContext) {}
  /** Creates a buffer owned by this scope. */
  create(bytes: number, label?: string, usage?: number): GpuBuffer {
    const b = new GpuBuffer(this.ctx, bytes, usage, label);
    this.#owned.push(b);
    return b;
  }
  /** Uploads `data` into a buffer owned by this scope. */
  upload(data: ArrayBufferView, label?: string): GpuBuffer {
    const b = GpuBuffer.from(this.ctx, data, label);
    this.#owned.push(b);
    return b;
  }
  /** Takes ownership of `b`. */
  adopt<T extends GpuBuffer>(b: T): T {
    this.#owned.push(b);
    return b;
  }
  dispose(): void {
    for (const b of this.#owned.splice(0)) b.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}
