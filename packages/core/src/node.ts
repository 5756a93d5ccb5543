/**
 * @kvq/core/node — Node-only file helpers: atomic writes, reading files as bytes, saving and
 * loading AQUA-KV adapter files. Not for browsers (uses node:fs); the formats themselves
 * (encode/decode) are in the main entry.
 * @packageDocumentation
 */
export { type FileContents, writeFileAtomic } from './node/atomic-write.js';
export { readFileBytes } from './node/read-file.js';
export { loadAdapters, saveAdapters } from './node/adapters-file.js';
export { FileAccessError, FileNotFoundError } from './node/errors.js';
