/**
 * Atomic file writes: the bytes go to a temp file in the target's folder, which is fsynced and
 * then renamed over the target (rename is atomic on POSIX file systems and on NTFS), so a reader
 * sees the old file or the complete new one, never a partial one. On any failure the temp file
 * is removed and the target is left as it was.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { fsError } from './errors.js';

/** What {@link writeFileAtomic} writes: bytes, or chunks of bytes (sync or async). */
export type FileContents = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

let counter = 0;

/** The temp file name used for `path`: hidden, in the same folder, unique per process and call. */
export function tempPathFor(path: string): string {
  counter = (counter + 1) % 0x7fffffff;
  const tag = `${process.pid}.${counter}.${randomBytes(4).toString('hex')}`;
  return join(dirname(path), `.${basename(path)}.${tag}.tmp`);
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
    off += bytesWritten;
  }
}

async function* chunksOf(data: FileContents): AsyncGenerator<Uint8Array> {
  if (data instanceof Uint8Array) {
    yield data;
    return;
  }
  if (
    data === null ||
    typeof data !== 'object' ||
    (!(Symbol.asyncIterator in data) && !(Symbol.iterator in data))
  ) {
    throw new InvalidArgumentError(
      'writeFileAtomic: data must be a Uint8Array or an iterable of Uint8Array chunks',
    );
  }
  let i = 0;
  for await (const chunk of data as AsyncIterable<Uint8Array>) {
    if (!(chunk instanceof Uint8Array)) {
      throw new InvalidArgumentError(`writeFileAtomic: chunk ${i} is not a Uint8Array`);
    }
    yield chunk;
    i++;
  }
}

async function syncFolder(folder: string): Promise<void> {
  // makes the rename itself durable; folders cannot be opened for fsync on Windows: ignore that
  let fh: FileHandle | undefined;
  try {
    fh = await open(folder, 'r');
    await fh.sync();
  } catch {
    // best effort
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/**
 * Writes `data` to `path` atomically (temp file in the same folder + fsync + rename). The new
 * file gets mode 0o666 less the umask.
 *
 * Errors: a missing folder, a path that is a directory, no permission → `FileAccessError`;
 * data that is not bytes → `InvalidArgumentError`; an error thrown by the data iterable is
 * rethrown as is; other I/O failures (disk full, ...) are rethrown as Node reports them. In every
 * failure case the temp file is removed and `path` is untouched.
 */
export async function writeFileAtomic(path: string, data: FileContents): Promise<void> {
  if (typeof path !== 'string' || path === '')
    throw new InvalidArgumentError('writeFileAtomic: path must be a non-empty string');
  const tmp = tempPathFor(path);
  let fh: FileHandle | undefined;
  let created = false;
  try {
    try {
      fh = await open(tmp, 'wx', 0o666);
    } catch (e) {
      throw fsError(e, path, true);
    }
    created = true;
    for await (const chunk of chunksOf(data)) await writeAll(fh, chunk);
    await fh.sync();
    await fh.close();
    fh = undefined;
    try {
      await rename(tmp, path);
    } catch (e) {
      throw fsError(e, path, true);
    }
    created = false;
  } catch (e) {
    await fh?.close().catch(() => undefined);
    if (created) await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await syncFolder(dirname(path));
}
