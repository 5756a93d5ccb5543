import { causalAttention } from '../../cache/attention.js';
import { DisposedError } from '../../errors.js';
import { createQuantizer } from '../../quantizers/factory.js';
import type { Backend, BackendOp } from '../types.js';
import { linearCpu, rmsNormCpu, swigluCpu } from './dense.js';
import { applyRope } from './rope.js';
import { densifySegments } from './segments.js';

/**
 * The CPU reference backend: the definition of correct for every other backend. Plain TypeScript
 * on typed arrays, fp32 arithmetic (fp64 accumulation where noted), no Node built-ins.
 */
export function createCpuBackend(): Backend {
  let disposed = false;
  const live = () => {
    if (disposed) throw new DisposedError('cpu backend');
  };
  const backend: Backend = {
    name: 'cpu',
    supports: (_op: BackendOp) => true,
    async encode(spec, data, shape) {
      live();
      return createQuantizer(spec).encode(data, shape);
    },
    async decode(spec, block) {
      live();
      return createQuantizer(spec).decode(block);
    },
    async linear(x, rows, w, inDim, outDim, bias) {
      live();
      return linearCpu(x, rows, w, inDim, outDim, bias);
    },
    async rmsNorm(x, rows, dim, weight, eps) {
      live();
      return rmsNormCpu(x, rows, dim, weight, eps);
    },
    async rope(x, tokens, heads, headDim, positions, cfg, inverse) {
      live();
      return applyRope(x.slice(), tokens, heads, headDim, positions, cfg, inverse);
    },
    async swiglu(gate, up) {
      live();
      return swigluCpu(gate, up);
    },
    async attention(input) {
      live();
      const { keys, values, tokens } = densifySegments(input.segments, input.kvHeads, input.headDim);
      if (input.rope) applyRope(keys, tokens, input.kvHeads, input.headDim, 0, input.rope);
      return causalAttention({
        query: input.query,
        qTokens: input.qTokens,
        queryHeads: input.queryHeads,
        kvHeads: input.kvHeads,
        headDim: input.headDim,
        keys,
        values,
        kTokens: tokens,
        qStart: input.qStart,
        scale: input.scale,
      });
    },
    dispose() {
      disposed = true;
    },
    [Symbol.dispose]() {
      disposed = true;
    },
  };
  return backend;
}
