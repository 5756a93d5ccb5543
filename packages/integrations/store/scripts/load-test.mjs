#!/usr/bin/env node
// Load test of @kvq/store on Redis (loopback only, bounded): N worker processes share one
// redis-server; a workload of 100 prompts whose shared prefixes are documents of 2k–16k tokens
// (kvq-ref-35M's layout: 12 layers, 2 KV heads, head dim 64) plus a unique question of 32–256 tokens.
// Each worker, per prompt: lookup (timed) → restore the hit → build the rest of the cache → store.
// The caches' K/V in the workers are synthetic (seeded): a real 16k-token CPU prefill takes about a
// minute, so time to first token is measured separately, with the real reference decoder on
// kvq-ref-35M, for prompts of P + 64 tokens (P from --ttft, default 2048,2048,8192): a full prefill
// (its lookup on an empty store included) vs prefillWithPrefix restoring the P-token prefix that the
// first call wrote to Redis (same process, a real Redis read and restore).
// Usage: node scripts/load-test.mjs [--workers 4] [--prompts 100] [--preset kivi-2] [--chunk 2048]
//        [--ttft 2048,2048,8192] [--json out.json]
import { spawn } from 'node:child_process';
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { SeededRandom, createCache } from '@kvq/core';
import { LlamaModel, readGgufFile } from '@kvq/decoder';
import { defaultModelPath } from '@kvq/decoder/node';
import { prefillWithPrefix } from '../dist/decoder.js';
import { PrefixCache, RedisStore, chunkKeys } from '../dist/index.js';

const arg = (n, d) => {
  const i = process.argv.indexOf(`--${n}`);
  return i >= 0 ? process.argv[i + 1] : d;
};
const LAYOUT = { layers: 12, queryHeads: 8, kvHeads: 2, headDim: 64 };
const C = LAYOUT.kvHeads * LAYOUT.headDim;
const preset = arg('preset', 'kivi-2');
const chunk = Number(arg('chunk', '2048'));
const DOCS = [2, 4, 6, 8, 10, 12, 14, 16].map((k) => k * 1024);
const identity = { model: 'kvq-ref-35M@load-test', preset };

function docTokens(d) {
  const r = new SeededRandom(1000 + d);
  return Array.from({ length: DOCS[d] }, () => 3 + (r.nextUint32() % 16000));
}
function workload(n) {
  const r = new SeededRandom(42);
  return Array.from({ length: n }, (_, i) => {
    const d = r.nextUint32() % DOCS.length;
    const q = 32 + (r.nextUint32() % 225);
    const qr = new SeededRandom(5000 + i);
    return {
      doc: d,
      tokens: [...docTokens(d), ...Array.from({ length: q }, () => 3 + (qr.nextUint32() % 16000))],
    };
  });
}
/** appends seeded synthetic K/V for tokens [from, to) of a prompt */
function appendSynthetic(cache, from, to, seed) {
  const n = to - from;
  if (n <= 0) return;
  const r = new SeededRandom(seed * 7919 + from);
  for (let l = 0; l < LAYOUT.layers; l++) cache.append(l, r.normalArray(n * C), r.normalArray(n * C), n);
}

if (process.argv.includes('--worker')) {
  const url = arg('url');
  const ids = arg('ids').split(',').map(Number);
  const prompts = workload(Number(arg('prompts', '100')));
  const store = new RedisStore({ url, commandTimeoutMs: 5000 });
  const prefix = new PrefixCache({ store, identity, layout: LAYOUT, chunkTokens: chunk, deadlineMs: 10_000 });
  const rows = [];
  for (const i of ids) {
    const { doc, tokens } = prompts[i];
    const lookupAt = Date.now();
    const t = performance.now();
    const hit = await prefix.lookup(tokens);
    const lookupMs = performance.now() - t;
    const cache = hit.cache ?? createCache({ layout: LAYOUT, preset });
    appendSynthetic(cache, hit.tokens, tokens.length, doc);
    const w = await prefix.store(tokens, cache);
    rows.push({
      lookupAt,
      storedAt: Date.now(),
      i,
      doc,
      tokens: tokens.length,
      reusable: Math.floor(DOCS[doc] / chunk) * chunk,
      hitTokens: hit.tokens,
      lookupMs,
      written: w.written,
      bytesWritten: w.bytes,
      fp16Bytes: cache.stats().fp16Bytes,
    });
    cache.dispose();
  }
  await store.close();
  process.send(rows);
  process.exit(0);
}

const freePort = () =>
  new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
const port = await freePort();
const redis = spawn(
  'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
await new Promise((res, rej) => {
  redis.stdout.on('data', (d) => d.toString().includes('Ready to accept') && res());
  redis.on('exit', (c) => rej(new Error(`redis-server exited ${c}`)));
});
const url = `redis://127.0.0.1:${port}`;
const t0 = performance.now();
try {
  const nWorkers = Number(arg('workers', '4'));
  const nPrompts = Number(arg('prompts', '100'));
  const buckets = Array.from({ length: nWorkers }, () => []);
  for (let i = 0; i < nPrompts; i++) buckets[i % nWorkers].push(i);
  const results = (
    await Promise.all(
      buckets.map(
        (ids) =>
          new Promise((res, rej) => {
            const w = fork(process.argv[1], [
              '--worker',
              '--url',
              url,
              '--ids',
              ids.join(','),
              '--prompts',
              String(nPrompts),
              '--preset',
              preset,
              '--chunk',
              String(chunk),
            ]);
            let rows;
            w.on('message', (m) => {
              rows = m;
            });
            w.on('exit', (c) => (c === 0 ? res(rows) : rej(new Error(`worker exited ${c}`))));
          }),
      ),
    )
  ).flat();
  const loadSeconds = (performance.now() - t0) / 1000;
  // what is in Redis now: every value's bytes, vs the fp16 caches of the unique prefixes stored
  const { Redis } = await import('ioredis');
  const admin = new Redis(url);
  // one snapshot per document (its longest chunk boundary): the preset's own compression
  let longest = 0;
  for (let d = 0; d < DOCS.length; d++) {
    const keys = chunkKeys(identity, docTokens(d), chunk);
    longest += await admin.strlen(`kvq:${keys[keys.length - 1]}`);
  }
  let stored = 0;
  let keys = 0;
  for (const k of await admin.keys('kvq:*')) {
    stored += await admin.strlen(k);
    keys++;
  }
  const info = await admin.info('memory');
  const usedMemory = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
  admin.disconnect();
  const fp16PerToken = LAYOUT.layers * 2 * C * 2;
  const uniquePrefixTokens = DOCS.reduce((s, d) => s + Math.floor(d / chunk) * chunk, 0);
  const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
  const lookups = results.map((r) => r.lookupMs);
  const hits = results.filter((r) => r.hitTokens > 0).length;
  const reused = results.reduce((s, r) => s + r.hitTokens, 0);
  const reusable = results.reduce((s, r) => s + r.reusable, 0);
  // a miss is "cold" when no prompt of the same document had stored its prefix before this lookup,
  // "concurrent" when another worker was prefilling the same document at that moment
  let coldMisses = 0;
  let concurrentMisses = 0;
  for (const r of results.filter((x) => x.hitTokens === 0)) {
    const same = results.filter((x) => x !== r && x.doc === r.doc);
    if (same.some((x) => x.lookupAt < r.lookupAt && x.storedAt > r.lookupAt)) concurrentMisses++;
    else if (!same.some((x) => x.storedAt <= r.lookupAt)) coldMisses++;
  }

  // time to first token with the real decoder (kvq-ref-35M), with and without the store
  const ttftPrefixes = arg('ttft', '2048,2048,8192').split(',').filter(Boolean).map(Number);
  const model = LlamaModel.fromGguf(await readGgufFile(defaultModelPath()));
  const ttft = [];
  for (let k = 0; k < ttftPrefixes.length; k++) {
    const r = new SeededRandom(900 + k);
    const prompt = Array.from({ length: ttftPrefixes[k] + 64 }, () => 3 + (r.nextUint32() % 16000));
    const realId = { model: 'kvq-ref-35M@ttft', preset };
    const mk = () => createCache({ layout: model.layout, preset });
    const storeA = new RedisStore({ url, keyPrefix: `ttft${k}:`, commandTimeoutMs: 5000 });
    const prefixA = new PrefixCache({
      store: storeA,
      identity: realId,
      layout: model.layout,
      chunkTokens: chunk,
      deadlineMs: 10_000,
    });
    let t = performance.now();
    const cold = await prefillWithPrefix({ model, tokens: prompt, prefix: prefixA, createCache: mk });
    const coldMs = performance.now() - t; // includes writing the prefix to Redis
    const noStoreMs = cold.lookupMs + cold.prefillMs;
    t = performance.now();
    const warm = await prefillWithPrefix({
      model,
      tokens: prompt,
      prefix: prefixA,
      createCache: mk,
      store: false,
    });
    const warmMs = performance.now() - t;
    ttft.push({
      tokens: prompt.length,
      withoutStoreMs: noStoreMs,
      firstWithStoreMs: coldMs,
      warmMs,
      reused: warm.reused,
      lookupMs: warm.lookupMs,
    });
    cold.cache.dispose();
    warm.cache.dispose();
    await storeA.close();
  }

  const out = {
    date: new Date().toISOString().slice(0, 10),
    preset,
    chunkTokens: chunk,
    workers: Number(arg('workers', '4')),
    prompts: results.length,
    documents: DOCS,
    hitRate: hits / results.length,
    misses: {
      cold: coldMisses,
      concurrent: concurrentMisses,
      other: results.length - hits - coldMisses - concurrentMisses,
    },
    reusedTokens: reused,
    reusableTokens: reusable,
    lookupMs: { p50: q(lookups, 0.5), p99: q(lookups, 0.99), max: Math.max(...lookups) },
    redis: { keys, valueBytes: stored, usedMemory, longestSnapshotBytes: longest },
    fp16BytesOfUniquePrefixes: uniquePrefixTokens * fp16PerToken,
    loadSeconds,
    ttft,
  };
  const jsonOut = arg('json');
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ ...out, rows: results }, null, 1));
  const mb = (b) => (b / 2 ** 20).toFixed(1);
  console.log(
    `\n@kvq/store load test, ${out.date}: ${out.workers} worker processes, one redis-server on loopback, ${out.prompts} prompts over ${DOCS.length} shared documents of 2k–16k tokens (+32–256 unique tokens each), preset ${preset}, chunks of ${chunk} tokens, kvq-ref-35M layout; ${loadSeconds.toFixed(0)} s`,
  );
  console.log('| metric | value |');
  console.log('| --- | ---: |');
  console.log(`| prompts with a hit | ${hits} / ${results.length} (${(100 * out.hitRate).toFixed(0)}%) |`);
  console.log(
    `| misses: document not stored yet / another worker prefilling it / other | ${coldMisses} / ${concurrentMisses} / ${out.misses.other} |`,
  );
  console.log(
    `| prefix tokens restored / reusable | ${reused} / ${reusable} (${((100 * reused) / reusable).toFixed(0)}%) |`,
  );
  console.log(
    `| lookup latency p50 / p99 (restore included) | ${out.lookupMs.p50.toFixed(1)} / ${out.lookupMs.p99.toFixed(1)} ms |`,
  );
  console.log(
    `| Redis: values stored | ${keys} keys, ${mb(stored)} MiB (used_memory ${mb(usedMemory)} MiB) |`,
  );
  console.log(
    `| fp16 caches of the same unique prefixes | ${mb(out.fp16BytesOfUniquePrefixes)} MiB (stored ÷ fp16 = ${(stored / out.fp16BytesOfUniquePrefixes).toFixed(3)}) |`,
  );
  console.log(
    `| one snapshot per document (longest boundary) | ${mb(longest)} MiB (÷ fp16 = ${(longest / out.fp16BytesOfUniquePrefixes).toFixed(3)}) |`,
  );
  console.log(
    '\n| time to first token, real decoder (kvq-ref-35M, CPU) | tokens | without store | with store (prefix written by the first run, read back from Redis) | speed-up |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of ttft)
    console.log(
      `| prompt | ${r.tokens} | ${(r.withoutStoreMs / 1000).toFixed(2)} s | ${(r.warmMs / 1000).toFixed(2)} s (reused ${r.reused}, lookup ${r.lookupMs.toFixed(0)} ms) | ${(r.withoutStoreMs / r.warmMs).toFixed(1)}× |`,
    );
} finally {
  redis.kill('SIGKILL');
}
