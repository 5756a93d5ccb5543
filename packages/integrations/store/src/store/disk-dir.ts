import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '@kvq/core';
import type { ByteStore } from './types.js';

/** Options of {@link DiskDirStore}. */
export interface DiskDirOptions {
  /** directory holding one file per key (created if missing) */
  readonly dir: string;
  /** total bytes of value files; the least recently used (mtime) files are deleted beyond it */
  readonly maxBytes: number;
}

const KEY_RE = /^[A-Za-z0-9_-]{1,200}$/;
const SUFFIX = '.kvqv';

function checkKey(key: string): void {
  if (typeof key !== 'string' || !KEY_RE.test(key))
    throw new InvalidArgumentError(`store key must match ${KEY_RE}, got ${JSON.stringify(key)}`);
}

/**
 * A directory on disk as a byte store: one file per key, written to a temporary file and renamed
 * into place (atomic on one file system, so concurrent writers leave one whole value). A read
 * refreshes the file's mtime; after a write, files are deleted oldest-mtime first until the
 * directory's value bytes are within `maxBytes`.
 */
export class DiskDirStore implements ByteStore {
  readonly dir: string;
  readonly maxBytes: number;

  constructor(options: DiskDirOptions) {
    if (typeof options?.dir !== 'string' || options.dir === '')
      throw new InvalidArgumentError('dir must be a non-empty path');
    if (!Number.isFinite(options.maxBytes) || options.maxBytes < 0)
      throw new InvalidArgumentError(`maxBytes must be a non-negative number, got ${options.maxBytes}`);
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
  }

  #path(key: string): string {
    checkKey(key);
    return join(this.dir, key + SUFFIX);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const p = this.#path(key);
    try {
      const buf = await readFile(p);
      const now = new Date();
      await utimes(p, now, now).catch(() => {});
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    const p = this.#path(key);
    if (value.byteLength > this.maxBytes) return;
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(tmp, value, { flag: 'wx' });
      await rename(tmp, p);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
    await this.#evict(p);
  }

  async has(key: string): Promise<boolean> {
    try {
      await stat(this.#path(key));
      return true;
    } catch {
      return false;
    }
  }

  async delete(key: string): Promise<void> {
    await unlink(this.#path(key)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  /** bytes of value files now in the directory */
  async bytes(): Promise<number> {
    return (await this.#entries()).reduce((s, e) => s + e.size, 0);
  }

  async #entries(): Promise<{ path: string; size: number; mtime: number }[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: { path: string; size: number; mtime: number }[] = [];
    for (const n of names) {
      if (!n.endsWith(SUFFIX)) continue;
      const path = join(this.dir, n);
      try {
        const s = await stat(path);
        out.push({ path, size: s.size, mtime: s.mtimeMs });
      } catch {
        // removed by another writer meanwhile
      }
    }
    return out;
  }

  async #evict(justWritten: string): Promise<void> {
    const entries = await this.#entries();
    let total = entries.reduce((s, e) => s + e.size, 0);
    if (total <= this.maxBytes) return;
    entries.sort(
      (a, b) => a.mtime - b.mtime || (a.path === justWritten ? 1 : b.path === justWritten ? -1 : 0),
    );
    for (const e of entries) {
      if (total <= this.maxBytes) break;
      if (e.path === justWritten) continue;
      await unlink(e.path).catch(() => {});
      total -= e.size;
    }
  }

  async close(): Promise<void> {}
}
