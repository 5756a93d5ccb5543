/**
 * @kvq/kernels-cuda — the kvq Backend on NVIDIA GPUs (Node native addon, CUDA 13, sm_80–sm_90).
 * Importing this module never touches CUDA; the addon loads at first use, and
 * {@link isAvailable} / {@link createCudaBackend} report why CUDA cannot be used.
 * Importing registers the backend as 'cuda' (priority 100, above 'cpu').
 * @packageDocumentation
 */
import { registerBackend } from '@kvq/core';
import { createCudaBackend } from './backend.js';

export { CudaBackend, createCudaBackend } from './backend.js';
/**
 * AQUA-KV's predictor on the GPU: the adapters live in device memory and the predictions run in the
 * CUDA linear kernel. Pass it as the `predictor` option of a core cache (with the same adapters), or
 * use its device-buffer methods when K/V stay on the GPU.
 */
export { CudaAquaPredictor, createCudaAquaPredictor } from './aqua-predictor.js';
export {
  type CudaDeviceInfo,
  MIN_COMPUTE_CAPABILITY,
  deviceMemory,
  isAvailable,
  unavailableReason,
  requireCuda,
} from './context.js';
export { DeviceArray, DeviceBuffer } from './device-buffer.js';
export { CudaError } from './errors.js';
export { HIGGS_MAX_BLOCK, OUTLIERS_MAX_COUNT, gpuQuantizes } from './quantizers.js';
export * from './paged.js';
export {
  type DecodeAttentionValueChainArgs,
  type FoldedKeyChain,
  type FoldedValueChain,
  type RopeDiagonalKeyMap,
  VALUE_CHAIN_MAX_LAYERS,
  ValueChainMaps,
  type ValuePredictorBlocks,
  decodeAttentionValueChain,
  foldKeyChain,
  foldValueChain,
  ropePartners,
  valueChainFromAdapters,
  valueSignsOf,
} from './value-chain.js';
export {
  HIGGS_ATTENTION_CODE_BITS,
  higgsAttentionUnsupported,
  higgsPairCodeBits,
  higgsPairTable,
} from './higgs-pages.js';
export { type DecodeArgs, type DevicePtr, type NativeAddon, addonCandidates } from './native.js';

/** The npm name of this package. */
export const packageName = '@kvq/kernels-cuda';

/** Priority of 'cuda' in the backend registry (cpu is -100, webgpu registers its own). */
export const CUDA_PRIORITY = 100;

registerBackend('cuda', createCudaBackend, CUDA_PRIORITY);
