#!/usr/bin/env node
// Prints the README's tables (copy ceiling, quantize throughput, decode attention vs PyTorch,
// capacity) from a bench JSON written by `node bench/dist/run.mjs torch.json bench.json`.
// Usage: node bench/readme-table.mjs bench/results/h100-2026-12-06.json
import { readFileSync } from 'node:fs';

const path = process.argv[2];
if (!path) {
  console.error('usage: node bench/readme-table.mjs <bench.json>');
  process.exit(2);
}
const r = JSON.parse(readFileSync(path, 'utf8'));
const k = (n) => `${n / 1024}k`;
const fmt = (x) => x.toFixed(4);
console.log(
  `${r.device.name} (cc ${r.device.computeCapability}, ${r.device.multiProcessors} SMs), ${r.date.slice(0, 10)}, PyTorch ${r.torch?.torch ?? '(none)'}; copy ceiling ${Math.round(r.copy.GBps)} GB/s.\n`,
);
if (r.quant?.length) {
  console.log('| quantizer on fp16 [65536 × 1024] | encode GB/s (of copy) | decode to fp16 GB/s (of copy) |');
  console.log('| --- | ---: | ---: |');
  for (const q of r.quant)
    console.log(
      `| ${q.label} | ${Math.round(q.encodeGBps)} (${Math.round(100 * q.encodeFraction)}%) | ${Math.round(q.decodeGBps)} (${Math.round(100 * q.decodeFraction)}%) |`,
    );
  console.log('');
}
const shapes = [];
for (const a of r.attention)
  if (!shapes.some((s) => s.B === a.B && s.ctx === a.ctx)) shapes.push({ B: a.B, ctx: a.ctx });
// one table per timing: `ms` (single calls from an idle GPU, host launches included) and, where the
// bench recorded it, `gpuMs` (the GPU alone: the call enqueued behind a busy kernel)
const formats = [...new Set(r.attention.map((a) => a.format))];
function attentionTable(key, title) {
  const torchMs = (B, ctx) => r.torch?.sdpa.find((t) => t.B === B && t.ctx === ctx)?.[key];
  console.log(`${title}\n`);
  console.log(`| cache (bits/value) | ${shapes.map((s) => `B=${s.B} ${k(s.ctx)}`).join(' | ')} |`);
  console.log(`| --- | ${shapes.map(() => '---:').join(' | ')} |`);
  console.log(
    `| PyTorch SDPA fp16 (16) | ${shapes.map((s) => (torchMs(s.B, s.ctx) ? fmt(torchMs(s.B, s.ctx)) : '—')).join(' | ')} |`,
  );
  for (const f of formats) {
    const cells = shapes.map((s) => {
      const a = r.attention.find((x) => x.format === f && x.B === s.B && x.ctx === s.ctx);
      if (!a?.[key]) return '—';
      const t = torchMs(s.B, s.ctx);
      return t ? `${fmt(a[key])} (${(t / a[key]).toFixed(2)}×)` : fmt(a[key]);
    });
    const bits = r.attention.find((x) => x.format === f).bitsPerValue;
    console.log(
      `| kvq ${f} (${bits.toFixed(3).replace(/0+$/, '').replace(/\.$/, '')}) | ${cells.join(' | ')} |`,
    );
  }
  console.log('');
}
// a run of other parts only (KVQ_BENCH_PARTS=quant,capacity) has no attention rows: no empty tables
if (r.attention.length)
  attentionTable(
    'ms',
    'Decode attention, ms per call from an idle GPU (host launches included); (PyTorch ÷ kvq)',
  );
if (r.attention.some((a) => a.gpuMs))
  attentionTable(
    'gpuMs',
    'Decode attention, ms of the GPU alone (call enqueued behind a busy kernel); (PyTorch ÷ kvq)',
  );
if (r.capacity?.length) {
  console.log('| cache | bytes/token (32 layers) | longest context, batch 1 | largest batch at 32k |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const c of r.capacity)
    console.log(
      `| ${c.format} | ${c.bytesPerToken} | ${c.longestContextB1.toLocaleString('en-US')}${c.longestAllocated ? '' : ' (not allocated)'} | ${c.largestBatch32k}${c.batchAllocated ? '' : ' (not allocated)'} |`,
    );
}
