import type { Backend } from '@kvq/core';
import { matmulTransposed } from './matmul.js';
import { rmsNorm } from './rms-norm.js';
import { swiglu } from './swiglu.js';
import type { WasmMatmul } from './wasm-matmul.js';

/**
 * The dense operations the decoder runs through a backend: a subset of @kvq/core's
 * {@link Backend}, so any kvq backend (cpu, cuda, webgpu) can be passed as is.
 */
export type DenseOps = Pick<Backend, 'name' | 'linear' | 'rmsNorm' | 'swiglu'>;

/**
 * The decoder's own fast CPU path for the dense ops, synchronous underneath (the promises are
 * already resolved): matmuls on the WebAssembly SIMD kernel when `simd` is given, else the
 * register-tiled JavaScript matmul.
 */
export function cpuDenseOps(simd?: WasmMatmul): DenseOps {
  const mm = simd ? simd.matmul.bind(simd) : matmulTransposed;
  return {
    name: 'cpu',
    linear: (x, rows, w, inDim, outDim, bias) => Promise.resolve(mm(x, rows, w, inDim, outDim, bias)),
    rmsNorm: (x, rows, dim, weight, eps) => Promise.resolve(rmsNorm(x, rows, dim, weight, eps)),
    swiglu: (gate, up) => Promise.resolve(swiglu(gate, up)),
  };
}
