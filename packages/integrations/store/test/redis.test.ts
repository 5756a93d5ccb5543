import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrefixCache, RedisStore } from '../src/index.js';
import { LAYOUT, randomCache, randomTokens } from './helpers.js';
import { RedisServer, freePort, redisAvailable, redisSkipReason } from './redis-server.js';

const identity = { model: 'test-model@1', preset: 'kivi-4' };

describe.skipIf(!redisAvailable)(`RedisStore on a real redis-server${redisSkipReason}`, () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = new RedisServer(await freePort());
    await server.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('stores and restores prefixes; another identity never gets them', async () => {
    const store = new RedisStore({ url: server.url, keyPrefix: 't1:' });
    const prefix = new PrefixCache({ store, identity, layout: LAYOUT, chunkTokens: 64 });
    const tokens = randomTokens(1, 200);
    const cache = randomCache(1, 200);
    expect(await prefix.store(tokens, cache)).toMatchObject({ written: 3 });
    const hit = await prefix.lookup(tokens);
    expect(hit.tokens).toBe(192);
    expect(hit.cache?.length).toBe(192);
    const other = new PrefixCache({
      store,
      identity: { ...identity, preset: 'k4v2' },
      layout: LAYOUT,
      chunkTokens: 64,
    });
    expect((await other.lookup(tokens)).tokens).toBe(0);
    const otherModel = new PrefixCache({
      store,
      identity: { ...identity, model: 'x' },
      layout: LAYOUT,
      chunkTokens: 64,
    });
    expect((await otherModel.lookup(tokens)).tokens).toBe(0);
    await store.close();
  });

  it('a corrupt value is a miss and is deleted', async () => {
    const store = new RedisStore({ url: server.url, keyPrefix: 't2:' });
    const prefix = new PrefixCache({ store, identity, layout: LAYOUT, chunkTokens: 64 });
    const tokens = randomTokens(2, 128);
    await prefix.store(tokens, randomCache(2, 128));
    const [k1, k2] = prefix.keys(tokens);
    const raw = new Redis(server.url);
    const v = await raw.getBuffer(`t2:${k2}`);
    v![v!.length - 5]! ^= 0xff;
    await raw.set(`t2:${k2}`, v!);
    const hit = await prefix.lookup(tokens);
    expect(hit).toMatchObject({ tokens: 64, rejected: 1 });
    expect(await raw.exists(`t2:${k2}`)).toBe(0);
    expect(await raw.exists(`t2:${k1}`)).toBe(1);
    raw.disconnect();
    await store.close();
  });

  it('concurrent writers of the same prefix leave one valid value', async () => {
    const tokens = randomTokens(3, 256);
    const writers = Array.from({ length: 8 }, () => new RedisStore({ url: server.url, keyPrefix: 't3:' }));
    await Promise.all(
      writers.map((store) =>
        new PrefixCache({ store, identity, layout: LAYOUT, chunkTokens: 128 }).store(
          tokens,
          randomCache(3, 256),
        ),
      ),
    );
    const reader = new PrefixCache({ store: writers[0]!, identity, layout: LAYOUT, chunkTokens: 128 });
    const hit = await reader.lookup(tokens);
    expect(hit).toMatchObject({ tokens: 256, rejected: 0 });
    for (const w of writers) await w.close();
  });

  it('Redis slow, down or restarted mid-request: a miss within the deadline, then it works again', async () => {
    const errors: unknown[] = [];
    const store = new RedisStore({ url: server.url, keyPrefix: 't4:', commandTimeoutMs: 5000 });
    const prefix = new PrefixCache({
      store,
      identity,
      layout: LAYOUT,
      chunkTokens: 64,
      deadlineMs: 300,
      onError: (e) => errors.push(e),
    });
    const tokens = randomTokens(4, 128);
    await prefix.store(tokens, randomCache(4, 128));
    // slow: the server holds every client's commands for 1.5 s (CLIENT PAUSE)
    const admin = new Redis(server.url);
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const sleeping = new Promise((r) => setTimeout(r, 1600));
    let t = performance.now();
    expect((await prefix.lookup(tokens)).tokens).toBe(0);
    expect(performance.now() - t).toBeLessThan(1000);
    await sleeping;
    admin.disconnect();
    await new Promise((r) => setTimeout(r, 200));
    expect((await prefix.lookup(tokens)).tokens).toBe(128);
    // down
    await server.stop();
    t = performance.now();
    expect((await prefix.lookup(tokens)).tokens).toBe(0);
    expect(await prefix.store(tokens, randomCache(4, 128))).toMatchObject({ written: 0 });
    expect(performance.now() - t).toBeLessThan(1500);
    // restarted (empty: no persistence): misses, then writes and hits again once reconnected
    await server.start();
    for (let i = 0; i < 50 && store.client.status !== 'ready'; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(store.client.status).toBe('ready');
    expect((await prefix.lookup(tokens)).tokens).toBe(0);
    expect((await prefix.store(tokens, randomCache(4, 128))).written).toBe(2);
    expect((await prefix.lookup(tokens)).tokens).toBe(128);
    expect(errors.length).toBeGreaterThan(0);
    await store.close();
  });
});
