#!/usr/bin/env node
// Compares the attention rows of several bench JSONs (the builds of an A/B, `bench/ab-variants.sh`):
// one markdown row per format and shape, one column per JSON, ms (best in bold).
// Usage: node bench/ab-table.mjs [--gpu] [--batch 16] [--formats "kivi-2/g128,aqua-2.5 pages"]
//          label=bench/results/x-base.json label2=bench/results/x-new.json …
// --gpu: the GPU-alone timings (`gpuMs`) instead of the calls from an idle GPU (`ms`).
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
let key = 'ms';
let batch = null;
let formats = null;
const runs = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--gpu') key = 'gpuMs';
  else if (a === '--batch') batch = Number(args[++i]);
  else if (a === '--formats') formats = args[++i].split(',');
  else {
    const eq = a.indexOf('=');
    if (eq <= 0) {
      console.error(`ab-table: expected label=path, got "${a}"`);
      process.exit(2);
    }
    runs.push({ label: a.slice(0, eq), r: JSON.parse(readFileSync(a.slice(eq + 1), 'utf8')) });
  }
}
if (runs.length === 0) {
  console.error('usage: node bench/ab-table.mjs [--gpu] [--batch B] [--formats a,b] label=bench.json …');
  process.exit(2);
}
const rows = [];
for (const { r } of runs)
  for (const a of r.attention ?? [])
    if ((batch === null || a.B === batch) && (formats === null || formats.includes(a.format)))
      if (!rows.some((x) => x.format === a.format && x.B === a.B && x.ctx === a.ctx))
        rows.push({ format: a.format, B: a.B, ctx: a.ctx });
const devices = [...new Set(runs.map(({ r }) => r.device?.name))].join(', ');
console.log(`${devices}; ${key === 'ms' ? 'ms per call from an idle GPU' : 'ms of the GPU alone'}\n`);
console.log(`| cache, B × context | ${runs.map((x) => x.label).join(' | ')} |`);
console.log(`| --- | ${runs.map(() => '---:').join(' | ')} |`);
for (const row of rows) {
  const v = runs.map(
    ({ r }) => r.attention.find((a) => a.format === row.format && a.B === row.B && a.ctx === row.ctx)?.[key],
  );
  const best = Math.min(...v.filter((x) => x !== undefined));
  const cells = v.map((x) => (x === undefined ? '—' : x === best ? `**${x.toFixed(4)}**` : x.toFixed(4)));
  console.log(`| ${row.format}, ${row.B} × ${row.ctx / 1024}k | ${cells.join(' | ')} |`);
}
