import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@kvq/core';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskDirStore, MemoryLruStore } from '../src/index.js';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('MemoryLruStore', () => {
  it('evicts least recently used beyond the byte budget', async () => {
    const s = new MemoryLruStore({ maxBytes: 300 });
    await s.set('a', bytes(100, 1));
    await s.set('b', bytes(100, 2));
    await s.set('c', bytes(100, 3));
    await s.get('a'); // a is now most recent
    await s.set('d', bytes(100, 4));
    expect(await s.has('b')).toBe(false);
    expect(s.keys()).toEqual(['c', 'a', 'd']);
    expect(s.bytes).toBe(300);
    await s.set('big', bytes(301, 5));
    expect(await s.has('big')).toBe(false);
    expect((await s.get('a'))?.[0]).toBe(1);
  });
});

describe('DiskDirStore', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  it('round trip, size cap with oldest-first eviction, no temp files left', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kvq-store-'));
    const s = new DiskDirStore({ dir, maxBytes: 250 });
    await s.set('a', bytes(100, 1));
    await new Promise((r) => setTimeout(r, 20));
    await s.set('b', bytes(100, 2));
    await new Promise((r) => setTimeout(r, 20));
    await s.get('a');
    await new Promise((r) => setTimeout(r, 20));
    await s.set('c', bytes(100, 3));
    expect(await s.has('b')).toBe(false);
    expect(await s.has('a')).toBe(true);
    expect((await s.get('c'))?.[99]).toBe(3);
    expect(await s.bytes()).toBe(200);
    expect((await readdir(dir)).filter((n) => n.startsWith('.tmp'))).toEqual([]);
    expect(await s.get('zz')).toBeUndefined();
  });
  it('concurrent writers of one key leave one whole value', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kvq-store-'));
    const s = new DiskDirStore({ dir, maxBytes: 1e8 });
    await Promise.all(Array.from({ length: 16 }, (_, i) => s.set('k', bytes(100_000, i))));
    const v = await s.get('k');
    expect(v?.byteLength).toBe(100_000);
    expect(v?.every((x) => x === v[0])).toBe(true);
    expect((await readdir(dir)).length).toBe(1);
  });
  it('rejects keys that are not plain names', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kvq-store-'));
    const s = new DiskDirStore({ dir, maxBytes: 100 });
    await expect(s.set('../x', bytes(1, 1))).rejects.toThrow(InvalidArgumentError);
  });
});
