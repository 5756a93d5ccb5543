#!/usr/bin/env node
// Which llama.cpp K/V cache type pairs node-llama-cpp's CPU build accepts, with flash attention
// "auto" (node-llama-cpp's default), off and on: each pair creates a context, evaluates a short
// prompt, generates 3 greedy tokens and saves its state (recording whether V is stored
// transposed). A refused pair is recorded with node-llama-cpp's error and llama.cpp's last error log.
// Usage: node scripts/kv-types-accepted.mjs [--json out.json]
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama } from 'node-llama-cpp';
import { KV_CACHE_TYPES, kvCacheContextOptions, parseSequenceState } from '../dist/index.js';
import { GGUF } from './llama-eval.mjs';

const arg = (n, d) =>
  process.argv.includes(`--${n}`) ? process.argv[process.argv.indexOf(`--${n}`) + 1] : d;
let logs = [];
const llama = await getLlama({
  gpu: false,
  logger: (level, message) => {
    if (level === 'error' || level === 'warn') logs.push(message.trim());
  },
});
const model = await llama.loadModel({ modelPath: GGUF });
const prompt = model.tokenize('The history of the city begins in the year 1200, when');
const tmp = join(tmpdir(), `kvq-kv-accepted-${process.pid}.bin`);
const types = Object.keys(KV_CACHE_TYPES);
const rows = [];
for (const fa of ['auto', false, true])
  for (const k of types)
    for (const v of types) {
      logs = [];
      let context;
      const row = { flashAttention: fa, keys: k, values: v };
      try {
        context = await model.createContext({
          contextSize: 128,
          sequences: 1,
          threads: 2,
          flashAttention: fa,
          ...kvCacheContextOptions(k, v),
        });
        if (
          context.kvCacheKeyType !== KV_CACHE_TYPES[k].ggml ||
          context.kvCacheValueType !== KV_CACHE_TYPES[v].ggml
        )
          throw new Error(`not applied: types ${context.kvCacheKeyType}/${context.kvCacheValueType}`);
        const seq = context.getSequence();
        await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1));
        const gen = [];
        for await (const t of seq.evaluate([prompt.at(-1)], { temperature: 0 })) {
          gen.push(t);
          if (gen.length >= 3) break;
        }
        await seq.saveStateToFile(tmp);
        row.accepted = true;
        row.vTrans = parseSequenceState(new Uint8Array(readFileSync(tmp))).vTrans;
        row.greedy = gen;
      } catch (e) {
        row.accepted = false;
        row.error = String(e?.message ?? e).split('\n')[0];
        // llama.cpp's own reason (its `llama_*` error), else its last error or warning
        const reason = logs.find((m) => /^llama_/.test(m)) ?? logs.at(-1);
        if (reason) row.llamaLog = reason;
      } finally {
        await context?.dispose();
      }
      rows.push(row);
    }
rmSync(tmp, { force: true });
await model.dispose();
await llama.dispose();
const date = new Date().toISOString().slice(0, 10);
if (arg('json')) writeFileSync(arg('json'), JSON.stringify({ date, model: GGUF, rows }, null, 1));
console.log(
  `llama.cpp K/V cache type pairs accepted by node-llama-cpp 3.22 (CPU build), ${GGUF.split('/').slice(-2).join('/')}; ${date}`,
);
for (const fa of ['auto', false, true]) {
  const r = rows.filter((x) => x.flashAttention === fa);
  const ok = r.filter((x) => x.accepted);
  console.log(
    `\nflashAttention ${fa}: ${ok.length} of ${r.length} pairs accepted (V transposed in the state: ${[...new Set(ok.map((x) => x.vTrans))].join('/')})`,
  );
  const bad = r.filter((x) => !x.accepted);
  const byError = new Map();
  for (const x of bad) {
    const key = `${x.error}${x.llamaLog ? ` — llama.cpp: "${x.llamaLog}"` : ''}`;
    byError.set(key, [...(byError.get(key) ?? []), `${x.keys}/${x.values}`]);
  }
  for (const [e, pairs] of byError) console.log(`  refused (${pairs.length}): ${pairs.join(' ')}\n    ${e}`);
  const gens = new Set(ok.map((x) => x.greedy.join(',')));
  console.log(`  distinct 3-token greedy continuations among accepted pairs: ${gens.size}`);
}
