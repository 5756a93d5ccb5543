/**
 * @kvq/store — content-keyed prefix caches of kvq compressed KV caches (in-process LRU, disk
 * directory, Redis). The reference-decoder wiring is `@kvq/store/decoder`.
 * @packageDocumentation
 */
export {
  PrefixCache,
  type PrefixCacheOptions,
  type PrefixLookup,
  type PrefixStoreResult,
} from './prefix-cache.js';
export {
  chunkKeys,
  validateTokens,
  DEFAULT_CHUNK_TOKENS,
  type PrefixIdentity,
} from './prefix/chunk-keys.js';
export { wrapValue, unwrapValue } from './prefix/envelope.js';
export type { ByteStore } from './store/types.js';
export { MemoryLruStore, type MemoryLruOptions } from './store/memory-lru.js';
export { DiskDirStore, type DiskDirOptions } from './store/disk-dir.js';
export { RedisStore, type RedisStoreOptions, failFastRedisOptions } from './store/redis.js';
