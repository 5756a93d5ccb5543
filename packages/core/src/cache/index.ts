// Barrel of caches, presets and predictors.
export { CompressedKVCache, createCache, type LayerState } from './compressed-cache.js';
export { deserializeCache, snapshotSize, SNAPSHOT_VERSION, type DeserializeOptions } from './snapshot.js';
export { defaultPolicy, strictPolicy } from './policy.js';
export { causalAttention, type CausalAttentionInput } from './attention.js';
export { applyRope } from '../backend/cpu/rope.js';
export {
  getPreset,
  listPresets,
  layerQuantizers,
  presetBitsPerValue,
  type PresetBits,
} from '../presets/registry.js';
export { BUILTIN_PRESETS } from '../presets/definitions.js';
export { aquaPredictor, nonePredictor, validateAdapters, valuePredictorInput } from '../predictors/aqua.js';
export { createCpuBackend } from '../backend/cpu/cpu-backend.js';
export { linearCpu, rmsNormCpu, swigluCpu } from '../backend/cpu/dense.js';
export { densifySegments } from '../backend/cpu/segments.js';
