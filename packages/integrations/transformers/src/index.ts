/**
 * @kvq/transformers — kvq for transformers.js: keep idle conversations' KV caches compressed and
 * restore one into transformers.js' cache for its turn. transformers.js' ONNX graph consumes
 * full-precision K/V at every step, so this does not shrink the memory of one forward pass; it
 * shrinks everything that is idle.
 */
export { kvModelFromConfig, type LlamaLikeConfig, type TransformersKvModel } from './model-layout.js';
export { hfKeysToPreRope, preRopeToHfKeys } from './key-convention.js';
export {
  loadTransformers,
  readPastKeyValues,
  toDynamicCache,
  type LayerKV,
  type PastKeyValues,
  type TransformersLib,
} from './past-key-values.js';

/** The package's name. */
export const packageName = '@kvq/transformers';
export { KvqCache, compress, restore, type CompressOptions } from './kvq-cache.js';
export { lookupPrefix, storePrefix, type PrefixCacheLike } from './prefix.js';
export {
  KvqSessionManager,
  type SessionManagerOptions,
  type SessionManagerStats,
} from './session-manager.js';
