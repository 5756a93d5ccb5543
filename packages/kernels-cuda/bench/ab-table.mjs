#!/usr/bin/env node
// Compares the attention rows of several bench JSONs (the builds of an A/B, `bench/ab-variants.sh`):
// one markdown row per format and shape, one column per JSON, ms (best in bold).
// Usage: node bench/ab-table.mjs [--gpu] [--batch 16] [--formats "kivi-2/g128,aqua-2.5 pages"] [--delta]
//          label=bench/results/x-base.json label2=bench/results/x-new.json …
// --gpu: the GPU-alone timings (`gpuMs`) instead of the calls from an idle GPU (`ms`).
// --delta: each later column's change against the first (+ slower, − faster), and a last row with the
// geometric mean of each column's ratio to the first over the rows both have.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
let key = 'ms';
let batch = null;
let formats = null;
let delta = false;
const runs = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--gpu') key = 'gpuMs';
  else if (a === '--batch') batch = Number(args[++i]);
  else if (a === '--formats') formats = args[++i].split(',');
  else if (a === '--delta') delta = true;
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
  console.error(
    'usage: node bench/ab-table.mjs [--gpu] [--batch B] [--formats a,b] [--delta] label=bench.json …',
  );
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
const logRatio = runs.map(() => ({ sum: 0, n: 0 })); // per column: Σ ln(ms / first column's ms)
const pct = (x) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}%`;
for (const row of rows) {
  const v = runs.map(
    ({ r }) => r.attention.find((a) => a.format === row.format && a.B === row.B && a.ctx === row.ctx)?.[key],
  );
  const best = Math.min(...v.filter((x) => x !== undefined));
  const cells = v.map((x, i) => {
    if (x === undefined) return '—';
    let cell = x === best ? `**${x.toFixed(4)}**` : x.toFixed(4);
    if (delta && i > 0 && v[0] !== undefined) {
      cell += ` (${pct(x / v[0] - 1)})`;
      logRatio[i].sum += Math.log(x / v[0]);
      logRatio[i].n++;
    }
    return cell;
  });
  console.log(`| ${row.format}, ${row.B} × ${row.ctx / 1024}k | ${cells.join(' | ')} |`);
}
if (delta)
  console.log(
    `| geometric mean vs ${runs[0].label} | 1 | ${logRatio
      .slice(1)
      .map(({ sum, n }) => (n ? `${Math.exp(sum / n).toFixed(3)}× (${n} rows)` : '—'))
      .join(' | ')} |`,
  );
