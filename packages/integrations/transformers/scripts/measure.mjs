#!/usr/bin/env node
// Measures @kvq/transformers on the reference model as transformers.js runs it (kvq-ref-35M ONNX,
// int8 weights, fp32 KV cache), on WikiText-2 test:
//  1. quality after compress → restore: for each window, the first `prefix` tokens are prefilled,
//     the cache is compressed with a preset and restored, and the next `cont` tokens are scored in
//     one forward pass through the restored cache, against the same pass through the untouched cache
//     (next-token KL, top-1 agreement, perplexity of the real continuation);
//  2. idle conversations of 4096 tokens that fit in 1 GiB (real cache bytes, every preset);
//  3. restore time vs re-running the prefill of a 1024-token conversation (same run, ratio).
// Usage: node scripts/measure.mjs [--windows 4] [--prefix 896] [--cont 128] [--presets fp16,k4v2,...]
//        [--json out.json]; KVQ_MODELS_DIR / KVQ_DATA_DIR override the shared folders.
import { readFileSync, writeFileSync } from 'node:fs';
import { AutoModelForCausalLM, AutoTokenizer, DynamicCache, Tensor, env } from '@huggingface/transformers';
import { findBundledAdapters } from '@kvq/calibrate/node';
import { getPreset } from '@kvq/core';
import { loadAdapters } from '@kvq/core/node';
import { dataDir, modelsDir } from '@kvq/decoder/node';
import { compress, kvModelFromConfig, restore } from '../dist/index.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const windows = Number(arg('windows', '4'));
const prefix = Number(arg('prefix', '896'));
const cont = Number(arg('cont', '128'));
const presets = arg('presets', 'fp16,kivi-4,k4v2,kivi-2,aqua-3,aqua-2.5,kvq-2').split(',');
const jsonOut = arg('json', undefined);

env.allowRemoteModels = false;
env.localModelPath = `${modelsDir()}/`;
const t0 = performance.now();
const tokenizer = await AutoTokenizer.from_pretrained('kvq-ref-35M/onnx');
const model = await AutoModelForCausalLM.from_pretrained('kvq-ref-35M/onnx');
const kvModel = kvModelFromConfig(model.config);
const adapters = {};
for (const p of presets) {
  if (getPreset(p).predictor !== 'aqua') continue;
  const file = findBundledAdapters('kvq-ref-35M', p);
  if (!file) throw new Error(`no bundled adapters for ${p}`);
  adapters[p] = await loadAdapters(file);
}
const text = readFileSync(`${dataDir()}/wiki.test.raw`, 'utf8');
const ids = Array.from(
  tokenizer(text.slice(0, 400_000), { add_special_tokens: false }).input_ids.data,
  Number,
);
const L = (a) => new Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
const range = (a, b) => Array.from({ length: b - a }, (_, i) => a + i);
const forward = (tokens, start, cache) =>
  model({
    input_ids: L(tokens),
    attention_mask: L(new Array(start + tokens.length).fill(1)),
    position_ids: L(range(start, start + tokens.length)),
    ...(cache ? { past_key_values: cache } : {}),
  });
const toCache = (out) => {
  const c = new DynamicCache();
  for (const k of Object.keys(out))
    if (k.startsWith('present.')) c[k.replace('present', 'past_key_values')] = out[k];
  return c;
};
function logSoftmax(row) {
  let m = Number.NEGATIVE_INFINITY;
  for (const x of row) m = Math.max(m, x);
  let s = 0;
  for (const x of row) s += Math.exp(x - m);
  const lz = m + Math.log(s);
  return Float64Array.from(row, (x) => x - lz);
}

// 1. quality
const V = model.config.vocab_size;
const acc = Object.fromEntries(
  presets.map((p) => [p, { kl: 0, agree: 0, nll: 0, n: 0, bits: 0, stored: 0 }]),
);
let refNll = 0;
let refN = 0;
for (let w = 0; w < windows; w++) {
  const win = ids.slice(w * (prefix + cont + 1), (w + 1) * (prefix + cont + 1));
  const pre = toCache(await forward(win.slice(0, prefix), 0));
  const ref = (await forward(win.slice(prefix, prefix + cont), prefix, pre)).logits.data;
  const refRows = range(0, cont).map((i) => logSoftmax(ref.subarray(i * V, (i + 1) * V)));
  refRows.forEach((r, i) => {
    refNll -= r[win[prefix + i + 1]];
    refN++;
  });
  for (const p of presets) {
    const kvq = compress(pre, {
      model: kvModel,
      preset: p,
      ...(adapters[p] ? { adapters: adapters[p] } : {}),
    });
    const s = kvq.stats();
    const restored = await restore(kvq);
    const got = (await forward(win.slice(prefix, prefix + cont), prefix, restored)).logits.data;
    const a = acc[p];
    for (let i = 0; i < cont; i++) {
      const q = logSoftmax(got.subarray(i * V, (i + 1) * V));
      const r = refRows[i];
      let kl = 0;
      let am = 0;
      let bm = 0;
      for (let v = 0; v < V; v++) {
        kl += Math.exp(r[v]) * (r[v] - q[v]);
        if (q[v] > q[am]) am = v;
        if (r[v] > r[bm]) bm = v;
      }
      a.kl += kl;
      a.agree += am === bm ? 1 : 0;
      a.nll -= q[win[prefix + i + 1]];
      a.n++;
    }
    a.bits = s.bitsPerValue;
    a.stored = s.storedBitsPerValue;
    kvq.dispose();
  }
  process.stderr.write(`window ${w + 1}/${windows}\n`);
}

// 2. idle 4096-token conversations per GiB (real K/V: four 1024-token windows' caches, concatenated)
const big = {};
{
  const parts = [];
  for (let w = 0; w < 4; w++) parts.push(toCache(await forward(ids.slice(w * 1024, (w + 1) * 1024), 0)));
  for (const k of Object.keys(parts[0])) {
    const dims = parts[0][k].dims;
    const [b, h, t, d] = dims;
    const data = new Float32Array(b * h * 4 * t * d);
    for (let hh = 0; hh < h; hh++)
      parts.forEach((pc, j) =>
        data.set(pc[k].data.subarray(hh * t * d, (hh + 1) * t * d), (hh * 4 * t + j * t) * d),
      );
    big[k] = new Tensor('float32', data, [b, h, 4 * t, d]);
  }
}
const GiB = 2 ** 30;
const fp32Bytes = Object.values(big).reduce((s, t) => s + t.data.byteLength, 0);
const idle = [{ preset: 'fp32 (transformers.js tensors)', bytes: fp32Bytes }];
for (const p of presets) {
  const kvq = compress(big, { model: kvModel, preset: p, ...(adapters[p] ? { adapters: adapters[p] } : {}) });
  idle.push({ preset: p, bytes: kvq.bytes });
  kvq.dispose();
}

// 3. restore vs prefill, 1024 tokens
const conv = ids.slice(0, 1024);
const times = { prefill: [], restore: {} };
for (let r = 0; r < 3; r++) {
  const t = performance.now();
  await forward(conv, 0);
  times.prefill.push(performance.now() - t);
}
const c1024 = toCache(await forward(conv, 0));
for (const p of ['k4v2', 'kivi-2', 'aqua-2.5'].filter((x) => presets.includes(x))) {
  const kvq = compress(c1024, {
    model: kvModel,
    preset: p,
    ...(adapters[p] ? { adapters: adapters[p] } : {}),
  });
  times.restore[p] = [];
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    await restore(kvq);
    times.restore[p].push(performance.now() - t);
  }
  kvq.dispose();
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const date = new Date().toISOString().slice(0, 10);
const result = {
  date,
  windows,
  prefix,
  cont,
  tokensScored: refN,
  refPpl: Math.exp(refNll / refN),
  acc,
  idle,
  times,
};
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(result, null, 1));
console.log(
  `\n@kvq/transformers on kvq-ref-35M ONNX (int8 weights, fp32 cache), WikiText-2 test: ${windows} windows × (${prefix}-token prefix compressed, ${cont} tokens scored) = ${refN} scored tokens; ${date}; ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);
console.log(
  `| preset | bits/value | stored bits/value | perplexity (untouched cache ${Math.exp(refNll / refN).toFixed(3)}) | Δ | KL | top-1 agreement |`,
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const p of presets) {
  const a = acc[p];
  const ppl = Math.exp(a.nll / a.n);
  const d = (ppl / Math.exp(refNll / refN) - 1) * 100;
  console.log(
    `| ${p} | ${a.bits.toFixed(3)} | ${a.stored.toFixed(3)} | ${ppl.toFixed(3)} | ${d >= 0 ? '+' : ''}${d.toFixed(2)}% | ${(a.kl / a.n).toFixed(5)} | ${((100 * a.agree) / a.n).toFixed(2)}% |`,
  );
}
console.log('\n| idle 4096-token conversation | bytes | conversations in 1 GiB | vs fp32 |');
console.log('| --- | ---: | ---: | ---: |');
for (const r of idle)
  console.log(
    `| ${r.preset} | ${r.bytes} | ${Math.floor(GiB / r.bytes)} | ${(fp32Bytes / r.bytes).toFixed(2)}× |`,
  );
console.log('\n| 1024-token conversation | median ms (3 runs) | vs re-running prefill |');
console.log('| --- | ---: | ---: |');
console.log(`| prefill (transformers.js, onnxruntime-node CPU) | ${med(times.prefill).toFixed(1)} | 1.00× |`);
for (const [p, ts] of Object.entries(times.restore))
  console.log(
    `| restore from ${p} | ${med(ts).toFixed(1)} | ${(med(times.prefill) / med(ts)).toFixed(2)}× faster |`,
  );
