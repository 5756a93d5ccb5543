import type { Backend } from '@kvq/core';
import { matmulTransposed } from './matmul.js';
import { rmsNorm } from './rms-norm.js';
import { swiglu } from './swiglu.js';

/**
 * The dense operations the decoder runs through a backend: a subset of @kvq/core's
 * {@link Backend}, so any kvq backend (cpu, cuda, webgpu) can be passed as is.
 */
export type DenseOps = Pick<Backend, 'name' | 'linear' | 'rmsNorm' | 'swiglu'>;

/**
 * The decoder's own fast CPU path for the dense ops: a register-tiled matmul on typed arrays,
 * synchronous underneath (the promises are already resolved).
 */
export function cpuDenseOps(): DenseOps {
  return {
    name: 'cpu',
    linear: (x, rows, w, inDim, outDim, bias) =>
      Promise.resolve(matmulTransposed(x, rows, w, inDim, outDim, bias)),
    rmsNorm: (x, rows, dim, weight, eps) => Promise.resolve(rmsNorm(x, rows, dim, weight, eps)),
    swiglu: (gate, up) => Promise.resolve(swiglu(gate, up)),
  };
}
