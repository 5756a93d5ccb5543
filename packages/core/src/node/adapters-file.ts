/** Saving and loading AQUA-KV adapter files (see the adapter format in FORMATS.md). */
import { KvqError } from '../errors.js';
import { type AdapterExpectation, decodeAdapters, encodeAdapters } from '../formats/adapters.js';
import type { AquaAdapters } from '../predictors/types.js';
import { writeFileAtomic } from './atomic-write.js';
import { readFileBytes } from './read-file.js';

/** Encodes `adapters` and writes them to `path` atomically (see {@link writeFileAtomic}). */
export async function saveAdapters(path: string, adapters: AquaAdapters): Promise<void> {
  await writeFileAtomic(path, encodeAdapters(adapters));
}

/**
 * Reads and decodes the adapter file at `path`. Errors are those of {@link readFileBytes} and
 * `decodeAdapters` (CorruptFileError, UnsupportedVersionError, AdapterMismatchError), with the
 * path prefixed to the message.
 */
export async function loadAdapters(path: string, expect?: AdapterExpectation): Promise<AquaAdapters> {
  const bytes = await readFileBytes(path);
  try {
    return decodeAdapters(bytes, expect);
  } catch (e) {
    if (e instanceof KvqError) e.message = `${path}: ${e.message}`;
    throw e;
  }
}
