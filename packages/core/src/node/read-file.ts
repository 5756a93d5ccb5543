/** Reading whole files as bytes, with typed errors. */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from '../errors.js';
import { fsError } from './errors.js';

/**
 * The bytes of the file at `path`, as a Uint8Array starting at an 8-aligned offset of its
 * ArrayBuffer (so container sections can be viewed as Float32Array / Float64Array without a copy).
 *
 * Errors: no such file → `FileNotFoundError` naming the path; a directory, no permission →
 * `FileAccessError`; other I/O failures as Node reports them.
 */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  if (typeof path !== 'string' || path === '')
    throw new InvalidArgumentError('readFileBytes: path must be a non-empty string');
  let buf: Uint8Array;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw fsError(e, path, false);
  }
  if (buf.byteOffset % 8 === 0) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  return new Uint8Array(buf); // copy into a fresh, aligned buffer
}
