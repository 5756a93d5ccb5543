/// <reference types="@webgpu/types" />
/**
 * @kvq/kernels-webgpu — WGSL compute kernels implementing @kvq/core's Backend in browsers
 * (navigator.gpu) and in Node (the `webgpu` package, Dawn). Importing this module registers the
 * backend as 'webgpu' in @kvq/core's default registry.
 * @packageDocumentation
 */
import { registerWebGpuBackend } from './register.js';

export { createGpuContext, GpuContext } from './context.js';
export type { GpuContextOptions, GpuFeatures, GpuI8MatrixShape, GpuLimits } from './context.js';
export { GpuBuffer, BufferScope, Usage, STORAGE_RW } from './buffer.js';
export {
  WebGpuUnavailableError,
  DeviceLostError,
  BufferTooLargeError,
  WebGpuValidationError,
} from './errors.js';
export { createWebGpuBackend, WebGpuBackend } from './backend.js';
export type { WebGpuBackendOptions } from './backend.js';
export { GpuKvTensor, tileFormat, paddedBlockBytes, higgsPairTable } from './kv-tensor.js';
export type { KvTensorShape } from './kv-tensor.js';
export { DecodeAttention, subgroupKernelByDefault } from './ops/decode-attention.js';
export type { DecodeAttentionShape, DecodeAttentionOptions } from './ops/decode-attention.js';
export { Recorder, grid, packParams } from './ops/recorder.js';
export type { Param } from './ops/recorder.js';
export { recordEncode, recordDecode, gpuSupportsSpec, GPU_QUANTIZER_KINDS } from './ops/quantize.js';
export { ropeTable } from './ops/rope-table.js';
export { fusedHeadDimSupported } from './kernels/decode-attention.wgsl.js';
export type { KvTileFormat, DecodeAttentionConfig } from './kernels/decode-attention.wgsl.js';
export { mmaUnsupported, mmaCodePosition } from './kernels/decode-attention-mma.wgsl.js';
export { tpF16Unsupported, TP_F16_BITS } from './kernels/decode-attention-tp.wgsl.js';
export { sgUnsupported, SG_SUBGROUPS } from './kernels/decode-attention-sg.wgsl.js';
export { sguUnsupported, sguValueGroups } from './kernels/decode-attention-sgu.wgsl.js';
export { registerWebGpuBackend, WEBGPU_PRIORITY } from './register.js';

registerWebGpuBackend();
