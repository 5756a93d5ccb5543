#!/usr/bin/env node
// llama.cpp's own K/V cache types on the bundled GGUF (node-llama-cpp CPU build): perplexity on
// WikiText-2 test windows cut exactly as `kvq eval` cuts them, fed in 32-token batches (kvq eval's
// chunks), and the cache bytes per token — the llama.cpp baseline for kvq's presets.
// Usage: node scripts/kv-types-table.mjs [--windows 4] [--json out.json]
import { writeFileSync } from 'node:fs';
import { getLlama } from 'node-llama-cpp';
import { KV_CACHE_TYPES, kvCacheBytesPerToken, kvCacheContextOptions, kvTypeBits } from '../dist/index.js';
import { GGUF, ppl, scoreNext, windows } from './llama-eval.mjs';

const arg = (n, d) =>
  process.argv.includes(`--${n}`) ? process.argv[process.argv.indexOf(`--${n}`) + 1] : d;
const nWin = Number(arg('windows', '4'));
const PAIRS = [
  ['f16', 'f16'],
  ['q8_0', 'q8_0'],
  ['q8_0', 'q5_1'],
  ['q8_0', 'q4_0'],
  ['q4_0', 'q8_0'],
  ['q5_1', 'q5_1'],
  ['q5_1', 'q4_0'],
  ['q4_1', 'q4_1'],
  ['q4_0', 'q4_0'],
  ['iq4_nl', 'iq4_nl'],
];
const layout = { layers: 12, queryHeads: 8, kvHeads: 2, headDim: 64 };
const llama = await getLlama({ gpu: false });
const model = await llama.loadModel({ modelPath: GGUF });
const wins = await windows(model.trainContextSize, nWin);
const t0 = performance.now();
const rows = [];
let ref;
for (const [k, v] of PAIRS) {
  const logp = [];
  const argmax = [];
  let error;
  for (const ids of wins) {
    let context;
    try {
      context = await model.createContext({
        contextSize: ids.length,
        batchSize: 32,
        sequences: 1,
        threads: 2,
        ...kvCacheContextOptions(k, v),
      });
      if (
        context.kvCacheKeyType !== KV_CACHE_TYPES[k].ggml ||
        context.kvCacheValueType !== KV_CACHE_TYPES[v].ggml
      )
        throw new Error(
          `not applied: the context has types ${context.kvCacheKeyType}/${context.kvCacheValueType}`,
        );
      const r = await scoreNext(context.getSequence(), ids);
      logp.push(...r.logp);
      argmax.push(...r.argmax);
    } catch (e) {
      error = String(e?.message ?? e).split('\n')[0];
      break;
    } finally {
      await context?.dispose();
    }
  }
  if (!ref && !error) ref = { ppl: ppl(logp), argmax };
  const row = {
    keys: k,
    values: v,
    bitsK: kvTypeBits(k),
    bitsV: kvTypeBits(v),
    bytesPerToken: kvCacheBytesPerToken(k, v, layout),
    ...(error
      ? { error }
      : {
          tokens: logp.length,
          perplexity: ppl(logp),
          top1: argmax.filter((a, i) => a === ref.argmax[i]).length / argmax.length,
        }),
  };
  rows.push(row);
  process.stderr.write(`${k}/${v}: ${error ?? row.perplexity.toFixed(3)}\n`);
}
await model.dispose();
await llama.dispose();
const date = new Date().toISOString().slice(0, 10);
const out = {
  date,
  model: GGUF,
  windows: wins.length,
  ctx: wins[0].length,
  rows,
  seconds: (performance.now() - t0) / 1000,
};
if (arg('json')) writeFileSync(arg('json'), JSON.stringify(out, null, 1));
console.log(
  `\nllama.cpp K/V cache types (node-llama-cpp 3.22 CPU), ${GGUF.split('/').slice(-2).join('/')}, WikiText-2 test: ${wins.length} windows × ${wins[0].length} tokens (${rows[0].tokens} predicted), 32-token batches; ${date}`,
);
console.log(
  '| keys / values | bits K / V | KV bytes per token | vs f16 | perplexity | Δ vs f16/f16 | top-1 vs f16/f16 |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  const vs = (r.bytesPerToken / rows[0].bytesPerToken).toFixed(3);
  if (r.error)
    console.log(
      `| ${r.keys} / ${r.values} | ${r.bitsK} / ${r.bitsV} | ${r.bytesPerToken} | ${vs} | refused: ${r.error} | | |`,
    );
  else {
    const d = (r.perplexity / ref.ppl - 1) * 100;
    console.log(
      `| ${r.keys} / ${r.values} | ${r.bitsK} / ${r.bitsV} | ${r.bytesPerToken} | ${vs} | ${r.perplexity.toFixed(3)} | ${d >= 0 ? '+' : ''}${d.toFixed(2)}% | ${(100 * r.top1).toFixed(2)}% |`,
    );
  }
}
