#!/usr/bin/env node
/**
 * Measures the playground as a person uses it: the built page under `vite preview`, headless
 * Chromium, the demo models; generation speed and KV memory per preset and backend, and one
 * comparison. Prints markdown tables and writes the raw figures to bench-results/<date>.json.
 *
 *   pnpm --filter @kvq/playground build && node apps/playground/scripts/bench.mjs [--tokens 32] [--compare-tokens 512]
 *
 * Backends: "cpu" = the issue's Chromium flags (Chromium gives no WebGPU adapter here), "webgpu" =
 * the same plus --enable-unsafe-webgpu --use-webgpu-adapter=swiftshader (software WebGPU; stories260K
 * only: the WebGPU backend uploads each weight matrix per call, far too slow for kvq-ref-35M there).
 * Each model's first generation is a discarded warm-up.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '@kvq/core/node';
import { chromium } from 'playwright-core';
import { preview } from 'vite';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const TOKENS = Number(arg('tokens', '32'));
const COMPARE_TOKENS = Number(arg('compare-tokens', '512'));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const BASE = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const RUNS = [
  {
    backend: 'cpu',
    flags: BASE,
    models: {
      stories260K: ['fp16', 'kivi-2', 'k4v2', 'qaq'],
      'kvq-ref-35M': ['fp16', 'kivi-2', 'k4v2', 'qaq', 'aqua-2', 'kvq-2'],
    },
  },
  {
    backend: 'webgpu',
    flags: [...BASE, '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'],
    models: { stories260K: ['fp16', 'kivi-2', 'k4v2'] },
  },
];
const PROMPTS = {
  stories260K:
    'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends and her big brown dog.',
  'kvq-ref-35M':
    'The history of the city begins in the early nineteenth century, when the first settlers arrived from the east and built a small port on the river.',
};

if (!existsSync(join(root, 'dist/index.html')))
  throw new Error('build first: pnpm --filter @kvq/playground build');
const server = await preview({ root, logLevel: 'warn', preview: { host: '127.0.0.1', port: 0 } });
const url = server.resolvedUrls.local[0];
const results = {
  date: new Date().toISOString(),
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  tokens: TOKENS,
  generation: [],
  comparison: null,
};

for (const run of RUNS) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: run.flags });
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForSelector('#backend[data-kind="webgpu"], #backend[data-kind="cpu"]', { timeout: 60_000 });
  const backendLabel = await page.textContent('#backend');
  const kind = await page.getAttribute('#backend', 'data-kind');
  if (kind !== run.backend) console.error(`note: asked for ${run.backend}, the page says: ${backendLabel}`);
  for (const [model, presets] of Object.entries(run.models)) {
    await page.selectOption('#demo-model', model);
    await page.click('#load-demo');
    await page.waitForFunction(
      (m) =>
        document.getElementById('model-info')?.dataset.model !== undefined &&
        document.getElementById('status')?.textContent?.startsWith('Loaded'),
      model,
      { timeout: 120_000 },
    );
    await page.fill('#prompt', PROMPTS[model]);
    await page.fill('#tokens', String(TOKENS));
    await page.selectOption('#policy', 'buffer32');
    for (const [i, preset] of ['warm-up', ...presets].entries()) {
      await page.selectOption('#preset', i === 0 ? presets[0] : preset);
      await page.click('#generate');
      await page.waitForSelector(`body[data-generated="${TOKENS}"]`, { timeout: 600_000 });
      const v = await page.evaluate(() => {
        const g = (id) => Number(document.getElementById(id).dataset.value);
        return {
          cacheTokens: g('stat-cache-tokens'),
          kvBytes: g('stat-kv-bytes'),
          fp16Bytes: g('stat-fp16-bytes'),
          bits: g('stat-bits'),
          storedBits: g('stat-stored-bits'),
          decode: g('stat-tps'),
          prefill: g('stat-prefill'),
        };
      });
      if (i === 0) continue; // the first run warms up the JIT and the GPU pipelines
      const row = { backend: kind, model, preset, ...v };
      results.generation.push(row);
      console.error(JSON.stringify(row));
    }
  }
  if (run.backend === 'cpu') {
    // comparison on kvq-ref-35M (the last model loaded; the demo text follows the model): WikiText-2 excerpt, strict policy
    const presets = ['kivi-2', 'k4v2', 'qaq', 'aqua-2', 'kvq-2'];
    await page.fill('#compare-tokens', String(COMPARE_TOKENS));
    await page.fill('#compare-window', String(COMPARE_TOKENS));
    await page.selectOption('#compare-policy', 'strict');
    await page.waitForFunction(() => (document.getElementById('compare-text')?.value.length ?? 0) > 1000);
    await page.$$eval(
      '#compare-presets input',
      (boxes, want) => {
        for (const b of boxes) if (!b.disabled) b.checked = b.value === 'fp16' || want.includes(b.value);
      },
      presets,
    );
    await page.click('#compare');
    await page.waitForSelector('body[data-compared]', { timeout: 600_000 });
    results.comparison = {
      model: 'kvq-ref-35M q8_0',
      text: 'first 8000 characters of wiki.test.raw',
      tokens: await page.textContent('#compare-progress'),
      policy: 'strict',
      rows: await page.$$eval('#compare-table tbody tr', (trs) =>
        trs.map((tr) => [...tr.cells].map((c) => c.textContent)),
      ),
      heatmap: await page.$$eval('#heatmap table', (ts) =>
        ts.map((t) => ({
          kind: t.dataset.kind,
          rows: [...t.tBodies[0].rows].map((r) => [...r.cells].map((c) => c.textContent)),
        })),
      ),
    };
    mkdirSync(join(root, 'bench-results'), { recursive: true });
    await page.screenshot({ path: join(root, 'bench-results', 'kvq-ref-35M-compare.png'), fullPage: true });
  }
  await browser.close();
}
await server.close();

const fp16 = new Map(
  results.generation.filter((r) => r.preset === 'fp16').map((r) => [`${r.backend}/${r.model}`, r.decode]),
);
console.log(
  '\n| backend | model | preset | bits/value | KV bytes | fp16 bytes | KV / fp16 | decode tok/s | vs fp16 | prefill tok/s |',
);
console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of results.generation) {
  console.log(
    `| ${r.backend} | ${r.model} | ${r.preset} | ${r.bits.toFixed(3)} | ${r.kvBytes} | ${r.fp16Bytes} | ${(r.kvBytes / r.fp16Bytes).toFixed(3)} | ${r.decode.toFixed(1)} | ${(r.decode / fp16.get(`${r.backend}/${r.model}`)).toFixed(2)} | ${r.prefill.toFixed(1)} |`,
  );
}
if (results.comparison) {
  console.log(
    `\n${results.comparison.model}, ${results.comparison.text}, ${results.comparison.tokens}, policy strict\n`,
  );
  console.log('| preset | bits/value | stored bits/value | perplexity | Δ ppl | KL | top-1 | s |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const row of results.comparison.rows) console.log(`| ${row.join(' | ')} |`);
}
mkdirSync(join(root, 'bench-results'), { recursive: true });
const out = join(root, 'bench-results', `${results.date.slice(0, 10)}.json`);
await writeFileAtomic(out, new TextEncoder().encode(`${JSON.stringify(results, null, 2)}\n`));
console.log(`\n${results.cpu}, ${results.cores} cores, ${results.date}; raw: ${out}`);
