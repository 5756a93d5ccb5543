import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendUnavailableError } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { type ByteStore, DiskDirStore, MemoryLruStore, PrefixCache } from '../src/index.js';
import { LAYOUT, randomCache, randomTokens } from './helpers.js';

const id = { model: 'test-model', preset: 'kivi-4' };
const C = 16;

function pc(store: ByteStore, extra: Partial<ConstructorParameters<typeof PrefixCache>[0]> = {}) {
  return new PrefixCache({ store, identity: id, layout: LAYOUT, chunkTokens: C, ...extra });
}

describe('PrefixCache', () => {
  it('stores chunks, a second client restores the longest prefix bit-exactly', async () => {
    const store = new MemoryLruStore({ maxBytes: 1e8 });
    const tokens = randomTokens(3, 70);
    const cache = randomCache(3, 70);
    const r = await pc(store).store(tokens, cache);
    expect(r.written).toBe(4); // 64 of 70 tokens
    expect((await pc(store).store(tokens, cache)).written).toBe(0);
    const prompt = [...tokens.slice(0, 50), 1, 2, 3];
    const got = await pc(store).lookup(prompt);
    expect(got.tokens).toBe(48);
    const ref = cache.fork();
    ref.truncate(48);
    for (let l = 0; l < LAYOUT.layers; l++)
      expect(got.cache?.reconstruct(l).keys).toEqual(ref.reconstruct(l).keys);
    expect((await pc(store).lookup(randomTokens(4, 70))).cache).toBeUndefined();
  });

  it('never returns a chunk of another model, adapter or preset', async () => {
    const store = new MemoryLruStore({ maxBytes: 1e8 });
    const tokens = randomTokens(5, 32);
    await pc(store).store(tokens, randomCache(5, 32));
    for (const other of [
      { ...id, model: 'other' },
      { ...id, adapter: 'x' },
      { ...id, preset: 'kivi-2' },
    ])
      expect((await pc(store, { identity: other }).lookup(tokens)).tokens).toBe(0);
    // a value planted under another identity's key is rejected by the key check and deleted
    const other = pc(store, { identity: { ...id, preset: 'kivi-2' } });
    const k = other.keys(tokens)[1] as string;
    await store.set(k, (await store.get(pc(store).keys(tokens)[1] as string)) as Uint8Array);
    const res = await other.lookup(tokens);
    expect(res.cache).toBeUndefined();
    expect(res.rejected).toBe(1);
    expect(await store.has(k)).toBe(false);
  });

  it('a corrupt or truncated value is a miss and is deleted', async () => {
    const store = new MemoryLruStore({ maxBytes: 1e8 });
    const tokens = randomTokens(6, 48);
    const p = pc(store);
    await p.store(tokens, randomCache(6, 48));
    const keys = p.keys(tokens);
    const last = (await store.get(keys[2] as string)) as Uint8Array;
    const bad = last.slice();
    bad[200] = (bad[200] as number) ^ 0xff;
    await store.set(keys[2] as string, bad);
    await store.set(keys[1] as string, ((await store.get(keys[1] as string)) as Uint8Array).slice(0, 100));
    const res = await p.lookup(tokens);
    expect(res.tokens).toBe(16);
    expect(res.rejected).toBe(2);
    expect(await store.has(keys[2] as string)).toBe(false);
    expect(await store.has(keys[1] as string)).toBe(false);
  });

  it('a slow or failing backend is a miss within the deadline', async () => {
    const errors: unknown[] = [];
    const slow: ByteStore = {
      get: () => new Promise(() => {}),
      set: () => new Promise(() => {}),
      has: () => new Promise(() => {}),
      delete: async () => {},
      close: async () => {},
    };
    const tokens = randomTokens(7, 64);
    const t0 = performance.now();
    const res = await pc(slow, { deadlineMs: 100, onError: (e) => errors.push(e) }).lookup(tokens);
    expect(res.cache).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(1000);
    const failing: ByteStore = { ...slow, get: async () => Promise.reject(new Error('ECONNREFUSED')) };
    expect((await pc(failing, { onError: (e) => errors.push(e) }).lookup(tokens)).tokens).toBe(0);
    const w = await pc(slow, { deadlineMs: 50 }).store(tokens, randomCache(7, 64));
    expect(w).toEqual({ written: 0, skipped: 4, bytes: 0 });
    expect(errors.length).toBe(2);
  });

  it('the deadline bounds a whole lookup, not each backend operation', async () => {
    const inner = new MemoryLruStore({ maxBytes: 1e8 });
    const tokens = randomTokens(9, 20 * C);
    await pc(inner).store(tokens.slice(0, C), randomCache(9, C)); // only the first chunk is stored
    let calls = 0;
    const delay = <T>(v: Promise<T>) => new Promise<T>((r) => setTimeout(() => r(v), 80));
    const slowish: ByteStore = {
      get: (k) => {
        calls++;
        return delay(inner.get(k));
      },
      set: (k, v) => delay(inner.set(k, v)),
      has: (k) => {
        calls++;
        return delay(inner.has(k));
      },
      delete: (k) => inner.delete(k),
      close: async () => {},
    };
    // each operation answers in 80 ms (under the deadline), but 20 sequential reads would take 1.6 s
    const errors: unknown[] = [];
    const t0 = performance.now();
    const res = await pc(slowish, { deadlineMs: 200, onError: (e) => errors.push(e) }).lookup(tokens);
    expect(performance.now() - t0).toBeLessThan(450);
    expect(res.tokens).toBe(0);
    expect(errors[0]).toBeInstanceOf(BackendUnavailableError);
    // with time enough: read the longest key (absent), ask for the 19 shorter ones at once, read chunk 1
    calls = 0;
    const ok = await pc(slowish, { deadlineMs: 2000 }).lookup(tokens);
    expect(ok.tokens).toBe(C);
    expect(calls).toBe(1 + 19 + 1);
  });

  it('when the longest value is missing or bad, the longest valid shorter one is restored', async () => {
    const store = new MemoryLruStore({ maxBytes: 1e8 });
    const p = pc(store);
    const tokens = randomTokens(10, 6 * C);
    await p.store(tokens, randomCache(10, 6 * C));
    const keys = p.keys(tokens);
    await store.delete(keys[5] as string);
    await store.delete(keys[3] as string);
    await store.set(keys[4] as string, new Uint8Array(10)); // garbage
    const res = await p.lookup(tokens);
    expect(res).toMatchObject({ tokens: 3 * C, rejected: 1 });
    expect(res.cache?.length).toBe(3 * C);
    expect(await store.has(keys[4] as string)).toBe(false);
  });

  it('on disk: concurrent writers of one prefix leave valid values', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvq-prefix-'));
    try {
      const tokens = randomTokens(8, 64);
      const cache = randomCache(8, 64);
      await Promise.all(
        Array.from({ length: 6 }, () => pc(new DiskDirStore({ dir, maxBytes: 1e8 })).store(tokens, cache)),
      );
      const res = await pc(new DiskDirStore({ dir, maxBytes: 1e8 })).lookup(tokens);
      expect(res.tokens).toBe(64);
      expect(res.rejected).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
