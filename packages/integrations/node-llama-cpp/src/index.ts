/**
 * @kvq/node-llama-cpp — kvq for node-llama-cpp: K/V cache types chosen per key and value from a
 * memory budget (KV-AdaQuant for llama.cpp), and compressed context states (`.kvq`) that restore
 * into a context.
 * @packageDocumentation
 */
export {
  KV_CACHE_TYPES,
  KV_TYPE_LADDER,
  chooseKvCacheTypes,
  kvCacheContextOptions,
  kvCacheBytesPerToken,
  kvTypeBits,
  isQuantizedKvType,
  type GgmlTypeName,
  type KvCacheContextOptions,
  type KvCacheTypeChoice,
  type LlamaKvCacheType,
} from './kv-cache-types.js';
export {
  LLAMA_STATE_SEQ_MAGIC,
  LLAMA_STATE_SEQ_VERSION,
  parseSequenceState,
  writeSequenceState,
  type SequenceState,
  type StateLayer,
} from './state-file.js';
export {
  cacheFromState,
  stateFromCache,
  type StateFormat,
  compressState,
  decompressState,
  readCompressedStateHeader,
  type CompressStateOptions,
  type LlamaKvModel,
} from './compressed-state.js';
export { kvModelFromGguf } from './model.js';
export { loadCompressedState, saveCompressedState, type StatefulSequence } from './sequence-state.js';
export { lookupStatePrefix, storeStatePrefix, type PrefixCacheLike } from './prefix.js';

/** The package's name. */
export const packageName = '@kvq/node-llama-cpp';
