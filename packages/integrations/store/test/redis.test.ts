import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrefixCache, RedisStore, failFastRedisOptions } from '../src/index.js';
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

  it('a corrupt or truncated value is a miss and is deleted', async () => {
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
    // truncated (a writer that died mid-value, a proxy that cut it): a miss for that length, deleted
    expect((await prefix.store(tokens, randomCache(2, 128))).written).toBe(1);
    const whole = await raw.getBuffer(`t2:${k2}`);
    await raw.set(`t2:${k2}`, whole!.subarray(0, Math.floor(whole!.length / 2)));
    expect(await prefix.lookup(tokens)).toMatchObject({ tokens: 64, rejected: 1 });
    expect(await raw.exists(`t2:${k2}`)).toBe(0);
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

  it('Redis slow (CLIENT PAUSE), down or restarted: a miss within the deadline, then it works again', async () => {
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
  it('Redis killed, or killed and restarted, while a lookup waits on it: a miss, then hits again', async () => {
    const errors: unknown[] = [];
    const store = new RedisStore({ url: server.url, keyPrefix: 't5:', commandTimeoutMs: 5000 });
    const prefix = new PrefixCache({
      store,
      identity,
      layout: LAYOUT,
      chunkTokens: 64,
      deadlineMs: 2000,
      onError: (e) => errors.push(e),
    });
    const tokens = randomTokens(5, 128);
    for (const restart of [false, true]) {
      await prefix.store(tokens, randomCache(5, 128));
      expect((await prefix.lookup(tokens)).tokens).toBe(128);
      // the server holds every command (CLIENT PAUSE), so the lookup's GET is in flight when it dies
      const admin = new Redis(server.url);
      await admin.call('CLIENT', 'PAUSE', '10000', 'ALL');
      admin.disconnect();
      const t = performance.now();
      const pending = prefix.lookup(tokens);
      await new Promise((r) => setTimeout(r, 150));
      await server.stop();
      if (restart) await server.start();
      expect((await pending).tokens).toBe(0);
      expect(performance.now() - t).toBeLessThan(2000 + 500);
      if (!restart) await server.start();
      for (let i = 0; i < 50 && store.client.status !== 'ready'; i++)
        await new Promise((r) => setTimeout(r, 100));
      // the new server is empty (no persistence): a miss, then the prefix is written and found again
      expect((await prefix.lookup(tokens)).tokens).toBe(0);
      expect((await prefix.store(tokens, randomCache(5, 128))).written).toBe(2);
      expect((await prefix.lookup(tokens)).tokens).toBe(128);
    }
    expect(errors.length).toBeGreaterThanOrEqual(2);
    await store.close();
  });

  it('Redis Cluster (a one-node cluster holding all 16384 slots) through the same store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvq-redis-cluster-'));
    const node = new RedisServer(await freePort(), [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, 'nodes.conf'),
      '--dir',
      dir,
      // a lone node does not know its own address (CLUSTER SLOTS would name host ""); announce it
      '--cluster-announce-ip',
      '127.0.0.1',
    ]);
    await node.start();
    try {
      const admin = new Redis(node.url);
      await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
      const clusterOk = async () => String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok');
      for (let i = 0; i < 100 && !(await clusterOk()); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await clusterOk()).toBe(true);
      const cluster = new Redis.Cluster([{ host: '127.0.0.1', port: node.port }], {
        enableOfflineQueue: false,
        redisOptions: failFastRedisOptions(2000),
      });
      // the store treats a client that is still connecting as unavailable (tested above); wait here
      await new Promise<void>((resolve, reject) => {
        if (cluster.status === 'ready') return resolve();
        const timer = setTimeout(
          () => reject(new Error(`cluster client ${cluster.status} after 10 s`)),
          10_000,
        );
        cluster.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      const store = new RedisStore({ client: cluster, keyPrefix: 'c:' });
      const errors: unknown[] = [];
      const prefix = new PrefixCache({
        store,
        identity,
        layout: LAYOUT,
        chunkTokens: 64,
        onError: (e) => errors.push(e),
      });
      const tokens = randomTokens(6, 200);
      const cache = randomCache(6, 200);
      expect((await prefix.store(tokens, cache)).written, String(errors[0])).toBe(3);
      const hit = await prefix.lookup([...tokens.slice(0, 150), 7, 7, 7]);
      expect(hit, String(errors[0])).toMatchObject({ tokens: 128, rejected: 0 });
      const ref = cache.fork();
      ref.truncate(128);
      for (let l = 0; l < LAYOUT.layers; l++)
        expect(hit.cache?.reconstruct(l).values).toEqual(ref.reconstruct(l).values);
      const other = new PrefixCache({
        store,
        identity: { ...identity, adapter: 'a1' },
        layout: LAYOUT,
        chunkTokens: 64,
      });
      expect((await other.lookup(tokens)).tokens).toBe(0);
      expect(await admin.dbsize()).toBe(3);
      await store.close(); // a passed-in client is not closed by the store
      expect(cluster.status).toBe('ready');
      cluster.disconnect();
      admin.disconnect();
    } finally {
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
