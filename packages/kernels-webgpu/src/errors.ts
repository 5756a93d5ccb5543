/**
 * Typed errors of the WebGPU backend. They extend @kvq/core's error classes, so a caller that
 * handles `BackendUnavailableError` or `OutOfMemoryError` handles these too.
 */
import { BackendUnavailableError, OutOfMemoryError } from '@kvq/core';

/** No WebGPU here: no `navigator.gpu`, the `webgpu` package is missing, or no adapter was found. */
export class WebGpuUnavailableError extends BackendUnavailableError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('webgpu', reason, options);
  }
}

/** The GPUDevice was lost (driver reset, `destroy()`, adapter removed); the context cannot be used again. */
export class DeviceLostError extends BackendUnavailableError {
  constructor(
    readonly lostReason: string,
    message: string,
  ) {
    super('webgpu', `device lost (${lostReason}): ${message || 'no message'}`);
  }
}

/** A buffer larger than the device's limits allow (`maxBufferSize` or `maxStorageBufferBindingSize`). */
export class BufferTooLargeError extends OutOfMemoryError {
  constructor(
    what: string,
    readonly requested: number,
    readonly limitName: 'maxBufferSize' | 'maxStorageBufferBindingSize',
    readonly limit: number,
  ) {
    super(`${what}: buffer of ${requested} bytes exceeds the device's ${limitName} (${limit})`, requested);
  }
}

/** A WebGPU validation error reported by an error scope: a bug in this package or an invalid input it let through. */
export class WebGpuValidationError extends Error {
  constructor(what: string, message: string) {
    super(`${what}: WebGPU validation error: ${message}`);
    this.name = 'WebGpuValidationError';
  }
}
