import { KvqError, OutOfMemoryError } from '@kvq/core';

/** cudaErrorMemoryAllocation */
const CUDA_OOM = 2;

/** A CUDA runtime call or kernel launch failed (other than out of memory). */
export class CudaError extends KvqError {
  constructor(
    message: string,
    readonly cudaCode: number,
    readonly cudaName: string,
  ) {
    super('BACKEND_UNAVAILABLE', message);
    this.name = 'CudaError';
  }
}

/** Runs an addon call and turns its failures into typed errors (out of memory → OutOfMemoryError). */
export function cuda<T>(what: string, fn: () => T, bytes?: number): T {
  try {
    return fn();
  } catch (err) {
    const e = err as { cudaCode?: number; cudaName?: string; message?: string };
    if (typeof e?.cudaCode !== 'number') throw err;
    if (e.cudaCode === CUDA_OOM) throw new OutOfMemoryError(`CUDA ${what}`, bytes);
    throw new CudaError(`CUDA ${what}: ${e.message}`, e.cudaCode, e.cudaName ?? 'unknown');
  }
}
