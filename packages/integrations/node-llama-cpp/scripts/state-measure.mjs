#!/usr/bin/env node
// Compressed llama.cpp context states on the bundled GGUF: each WikiText-2 window's first `prefix`
// tokens are evaluated by llama.cpp (node-llama-cpp CPU, f16 cache) and the sequence state saved;
// the state is compressed with a kvq preset (.kvq), restored into a fresh context, and the next
// `cont` tokens are scored from it, against the same tokens scored from the original state.
// Reports .kvq bytes vs llama.cpp's state file, perplexity and top-1 agreement.
// Usage: node scripts/state-measure.mjs [--windows 4] [--prefix 896] [--cont 128] [--json out.json]
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBundledAdapters } from '@kvq/calibrate/node';
import { getPreset } from '@kvq/core';
import { loadAdapters } from '@kvq/core/node';
import { getLlama } from 'node-llama-cpp';
import { compressState, decompressState, kvModelFromGguf } from '../dist/index.js';
import { GGUF, ppl, scoreNext, windows } from './llama-eval.mjs';

const arg = (n, d) =>
  process.argv.includes(`--${n}`) ? process.argv[process.argv.indexOf(`--${n}`) + 1] : d;
const nWin = Number(arg('windows', '4'));
const prefix = Number(arg('prefix', '896'));
const cont = Number(arg('cont', '128'));
const presets = arg('presets', 'fp16,kivi-4,k4v2,kivi-2,aqua-3,aqua-2.5,kvq-2').split(',');
const m = await kvModelFromGguf(GGUF);
const adapters = {};
for (const p of presets)
  if (getPreset(p).predictor === 'aqua')
    adapters[p] = await loadAdapters(findBundledAdapters('kvq-ref-35M', p));
const llama = await getLlama({ gpu: false });
const model = await llama.loadModel({ modelPath: GGUF });
const opts = { contextSize: 1024, batchSize: 32, sequences: 1, threads: 2 };
const wins = await windows(1024, nWin);
const tmp = join(tmpdir(), `kvq-state-measure-${process.pid}.bin`);
const acc = Object.fromEntries(presets.map((p) => [p, { logp: [], agree: 0, n: 0, bytes: 0 }]));
const ref = { logp: [], stateBytes: 0 };
const t0 = performance.now();
for (const [w, ids] of wins.entries()) {
  const ctx = await model.createContext(opts);
  const seq = ctx.getSequence();
  await seq.evaluateWithoutGeneratingNewTokens(ids.slice(0, prefix));
  await seq.saveStateToFile(tmp);
  const raw = new Uint8Array(readFileSync(tmp));
  ref.stateBytes += raw.length;
  const tail = ids.slice(prefix - 1, prefix + cont);
  // the reference: continue from the untouched state (reloaded, as the presets are)
  await ctx.dispose();
  const score = async (stateBytes) => {
    const c = await model.createContext(opts);
    const s = c.getSequence();
    writeFileSync(tmp, stateBytes);
    await s.loadStateFromFile(tmp, { acceptRisk: true });
    // the state holds the prefix; re-evaluating its last token gives the first next-token logits
    await s.eraseContextTokenRanges([{ start: prefix - 1, end: prefix }]);
    const r = await scoreNext(s, tail);
    await c.dispose();
    return r;
  };
  const r0 = await score(raw);
  ref.logp.push(...r0.logp);
  for (const p of presets) {
    const packed = compressState(raw, {
      model: m,
      preset: p,
      ...(adapters[p] ? { adapters: adapters[p] } : {}),
    });
    const r = await score(
      decompressState(packed, { model: m, ...(adapters[p] ? { adapters: adapters[p] } : {}) }),
    );
    const a = acc[p];
    a.logp.push(...r.logp);
    a.agree += r.argmax.filter((t, i) => t === r0.argmax[i]).length;
    a.n += r.argmax.length;
    a.bytes += packed.length;
  }
  process.stderr.write(`window ${w + 1}/${wins.length}\n`);
}
rmSync(tmp, { force: true });
await model.dispose();
await llama.dispose();
const date = new Date().toISOString().slice(0, 10);
const refPpl = ppl(ref.logp);
const rows = presets.map((p) => ({
  preset: p,
  bytes: acc[p].bytes,
  ratio: ref.stateBytes / acc[p].bytes,
  perplexity: ppl(acc[p].logp),
  top1: acc[p].agree / acc[p].n,
}));
if (arg('json'))
  writeFileSync(
    arg('json'),
    JSON.stringify(
      { date, windows: wins.length, prefix, cont, refPpl, stateBytes: ref.stateBytes, rows },
      null,
      1,
    ),
  );
console.log(
  `\nCompressed llama.cpp states, kvq-ref-35M f16 GGUF, WikiText-2 test: ${wins.length} windows, ${prefix}-token prefix saved and compressed, ${ref.logp.length} continuation tokens scored from the restored state; ${date}; ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);
console.log(
  `| state | bytes (${wins.length} states) | smaller than llama.cpp's | perplexity (untouched ${refPpl.toFixed(3)}) | Δ | top-1 vs untouched |`,
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
console.log(`| llama.cpp state file (f16 cache) | ${ref.stateBytes} | 1.00× | ${refPpl.toFixed(3)} | | |`);
for (const r of rows) {
  const d = (r.perplexity / refPpl - 1) * 100;
  console.log(
    `| .kvq ${r.preset} | ${r.bytes} | ${r.ratio.toFixed(2)}× | ${r.perplexity.toFixed(3)} | ${d >= 0 ? '+' : ''}${d.toFixed(2)}% | ${(100 * r.top1).toFixed(2)}% |`,
  );
}
