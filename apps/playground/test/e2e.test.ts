/**
 * End-to-end: the built page served by `vite preview` on a free loopback port, driven in headless
 * Debian Chromium (playwright-core). Loads the stories260K demo model, generates 16 tokens, checks
 * the numbers shown against the cache's exact accounting, switches preset, regenerates, runs a
 * comparison, and inspects a screenshot for the chart. Skipped, with the reason, when Chromium or
 * the demo model is missing.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getPreset } from '@kvq/core';
import { readGgufFile, tokenizerFromGguf } from '@kvq/decoder';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import type { PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedBitsPerValue } from '../src/engine/presets.js';
import { PlaygroundSession } from '../src/engine/session.js';
import { ROOT, freePort, storiesPath, storiesTextPath } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The flags of the issue: Chromium decides by itself whether to expose WebGPU (here it gives no adapter). */
const FLAGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
/** The same plus WebGPU on Chromium's software Vulkan (SwiftShader), so the WebGPU path runs too. */
const WEBGPU_FLAGS = [...FLAGS, '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];
const PROMPT =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends and her big brown dog.';
const OUT_DIR = join(ROOT, 'test-results');

const model = storiesPath();
const text = storiesTextPath();
const skip = !existsSync(CHROMIUM)
  ? `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`
  : !model
    ? 'stories260K.gguf not found in the shared models folder (set KVQ_SHARED_DIR)'
    : !text
      ? 'tinystories_sample_30k.txt not found in the shared data folder'
      : null;

interface Shown {
  generated: number;
  cacheTokens: number;
  kvBytes: number;
  fp16Bytes: number;
  bits: number;
  tps: number;
  text: string;
}

async function shown(page: Page): Promise<Shown> {
  return page.evaluate(() => {
    const v = (id: string) => Number(document.getElementById(id)!.dataset.value);
    return {
      generated: v('stat-generated'),
      cacheTokens: v('stat-cache-tokens'),
      kvBytes: v('stat-kv-bytes'),
      fp16Bytes: v('stat-fp16-bytes'),
      bits: v('stat-bits'),
      tps: v('stat-tps'),
      text: document.getElementById('output-text')!.textContent ?? '',
    };
  });
}

async function generate(page: Page, preset: string): Promise<Shown> {
  await page.selectOption('#preset', preset);
  await page.click('#generate');
  await page.waitForSelector('body[data-generated="16"]', { timeout: 60_000 });
  return shown(page);
}

function suite(title: string, flags: readonly string[], expectBackend?: 'webgpu'): void {
  describe.skipIf(skip !== null)(
    skip ? `${title} — SKIPPED: ${skip}` : `${title} (${flags.slice(5).join(' ') || "the issue's flags"})`,
    () => {
      let server: PreviewServer;
      let browser: Browser;
      let page: Page;
      const errors: string[] = [];

      beforeAll(async () => {
        const { build, preview } = await import('vite');
        if (!existsSync(join(ROOT, 'dist/index.html'))) await build({ root: ROOT, logLevel: 'warn' });
        const port = await freePort();
        server = await preview({
          root: ROOT,
          logLevel: 'warn',
          preview: { host: '127.0.0.1', port, strictPort: true },
        });
        const { chromium } = await import('playwright-core');
        browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...flags] });
        page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.goto(`http://127.0.0.1:${port}/`);
      });

      afterAll(async () => {
        await browser?.close();
        await server?.close();
      });

      it('says which backend it uses', async () => {
        await page.waitForSelector('#backend[data-kind="webgpu"], #backend[data-kind="cpu"]', {
          timeout: 60_000,
        });
        const kind = await page.getAttribute('#backend', 'data-kind');
        const label = (await page.textContent('#backend')) ?? '';
        console.log(`backend shown: ${label}`);
        expect(label).toMatch(kind === 'webgpu' ? /WebGPU .* on ".+"/ : /CPU .* — .+/);
      });

      if (expectBackend)
        it('runs the dense ops on WebGPU when Chromium gives an adapter', async (ctx) => {
          const kind = await page.getAttribute('#backend', 'data-kind');
          const label = (await page.textContent('#backend')) ?? '';
          // Chromium may give no adapter (no SwiftShader in its package): skipped with the page's reason
          if (kind !== 'webgpu') ctx.skip(`Chromium gave no WebGPU adapter: ${label}`);
          expect(label).toMatch(/WebGPU \(@kvq\/kernels-webgpu\) on ".+"/);
        });

      it('loads the demo model and says AQUA-KV is unavailable for it', async () => {
        await page.selectOption('#demo-model', 'stories260K');
        await page.click('#load-demo');
        await page.waitForSelector('#model-info[data-model]', { timeout: 60_000 });
        expect(await page.getAttribute('#model-info', 'data-model')).toBe('llama');
        expect(await page.textContent('#model-info')).toContain('5 layers, 8 query / 4 KV heads, head dim 8');
        expect(await page.textContent('#aqua-note')).toMatch(
          /unavailable for this model: no AQUA-KV adapters for model "llama"/,
        );
        expect(await page.isDisabled('#preset option[value="aqua-2"]')).toBe(true);
      });

      let kivi: Shown;
      it('generates 16 tokens with kivi-2 and shows the exact cache accounting', async () => {
        await page.fill('#prompt', PROMPT);
        await page.fill('#tokens', '16');
        await page.selectOption('#policy', 'buffer32');
        kivi = await generate(page, 'kivi-2');
        const file = await readGgufFile(model!);
        const promptTokens = tokenizerFromGguf(file.metadata).encode(PROMPT, { addBos: true }).length;
        expect(promptTokens + 16).toBeGreaterThanOrEqual(4 + 32); // at least one 32-token block is encoded
        expect(kivi.generated).toBe(16);
        expect(kivi.cacheTokens).toBe(promptTokens + 16);
        const layout = { layers: 5, queryHeads: 8, kvHeads: 4, headDim: 8 };
        expect(kivi.bits).toBeCloseTo(expectedBitsPerValue('kivi-2', layout, 32), 9);
        expect(kivi.fp16Bytes).toBe(kivi.cacheTokens * 5 * 4 * 8 * 2 * 2);
        expect(kivi.kvBytes).toBeLessThan(kivi.fp16Bytes);
        expect(kivi.tps).toBeGreaterThan(0);
        expect(kivi.text.length).toBeGreaterThan(0);
        // the page's greedy text is the Node CPU run's (same decoder, same cache)
        const backend = await page.getAttribute('#backend', 'data-kind');
        if (backend === 'cpu') {
          const s = PlaygroundSession.load(new Uint8Array(readFileSync(model!)), 'stories260K');
          const ref = await s.generate(
            { prompt: PROMPT, tokens: 16, preset: 'kivi-2', policy: 'buffer32' },
            () => {},
          );
          expect(kivi.text).toBe(ref.text);
        }
      });

      it('switches preset to k4v2 and regenerates: more bits than kivi-2, still below fp16', async () => {
        const k4v2 = await generate(page, 'k4v2');
        const layout = { layers: 5, queryHeads: 8, kvHeads: 4, headDim: 8 };
        expect(await page.textContent('#stat-preset')).toBe('k4v2');
        expect(k4v2.generated).toBe(16);
        expect(k4v2.cacheTokens).toBe(kivi.cacheTokens);
        expect(k4v2.bits).toBeCloseTo(expectedBitsPerValue('k4v2', layout, 32), 9);
        expect(k4v2.bits).toBeGreaterThan(kivi.bits);
        expect(k4v2.kvBytes).toBeGreaterThan(kivi.kvBytes);
        expect(k4v2.kvBytes).toBeLessThan(k4v2.fp16Bytes);
        expect(getPreset('k4v2').quantizers.keys).toMatchObject({ bits: 4 });
      });

      it('compares presets: chart, table and per-layer heat map; the screenshot shows the chart', async () => {
        const sample = readFileSync(text!, 'utf8').slice(0, 3000);
        await page.fill('#compare-text', sample);
        await page.fill('#compare-tokens', '128');
        await page.fill('#compare-window', '128');
        await page.selectOption('#compare-policy', 'strict');
        await page.click('#compare');
        await page.waitForSelector('body[data-compared]', { timeout: 90_000 });
        const rows = await page.$$eval('#compare-table tbody tr', (trs) =>
          trs.map((tr) => ({
            name: (tr as HTMLElement).dataset.preset!,
            ppl: Number((tr as HTMLElement).dataset.perplexity),
            bits: Number((tr as HTMLElement).dataset.bits),
          })),
        );
        expect(rows.map((r) => r.name)).toEqual(['fp16', 'kivi-2', 'k4v2', 'qaq']);
        for (const r of rows) expect(r.ppl).toBeGreaterThan(1);
        expect(rows[0]!.bits).toBe(16);
        expect(Number(await page.getAttribute('#chart-canvas', 'data-points'))).toBe(rows.length);
        const cells = await page.$$eval('#heatmap table', (tables) =>
          tables.map((t) => ({
            kind: (t as HTMLElement).dataset.kind!,
            values: [...t.querySelectorAll('td.cell')].map((td) => Number((td as HTMLElement).dataset.value)),
          })),
        );
        expect(cells.map((c) => c.kind)).toEqual(['keys', 'values']);
        for (const c of cells) {
          expect(c.values).toHaveLength(3 * 5); // kivi-2, k4v2, qaq × 5 layers
          for (const v of c.values) expect(v).toBeGreaterThan(0);
        }
        // 4-bit keys reconstruct better than 2-bit keys in every layer (rows: kivi-2, k4v2, qaq)
        const keys = cells[0]!.values;
        for (let l = 0; l < 5; l++) expect(keys[5 + l]!).toBeLessThan(keys[l]!);

        mkdirSync(OUT_DIR, { recursive: true });
        const shot = join(OUT_DIR, `playground-${expectBackend ?? 'default'}.png`);
        await page.screenshot({ path: shot, fullPage: true });
        const box = await page.evaluate(() => {
          const r = document.getElementById('chart-canvas')!.getBoundingClientRect();
          return { x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height };
        });
        const png = PNG.sync.read(readFileSync(shot));
        expect(box.w).toBeGreaterThan(100);
        expect(box.h).toBeGreaterThan(100);
        const colors = new Map<number, number>();
        let nonWhite = 0;
        for (let y = Math.floor(box.y); y < Math.min(png.height, box.y + box.h); y++) {
          for (let x = Math.floor(box.x); x < Math.min(png.width, box.x + box.w); x++) {
            const o = (y * png.width + x) * 4;
            const rgb = (png.data[o]! << 16) | (png.data[o + 1]! << 8) | png.data[o + 2]!;
            colors.set(rgb, (colors.get(rgb) ?? 0) + 1);
            if (rgb !== 0xffffff) nonWhite++;
          }
        }
        // axes, labels, legend and one coloured point per preset: many colours, not a blank box
        expect(colors.size).toBeGreaterThan(20);
        expect(nonWhite / (box.w * box.h)).toBeGreaterThan(0.01);
        // the preset colours of the points (chart.ts COLORS: blue, orange, green, red) are drawn
        const has = (rgb: number) =>
          [...colors.keys()].some(
            (c) =>
              Math.abs((c >> 16) - (rgb >> 16)) < 8 &&
              Math.abs(((c >> 8) & 255) - ((rgb >> 8) & 255)) < 8 &&
              Math.abs((c & 255) - (rgb & 255)) < 8,
          );
        for (const rgb of [0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728])
          expect(has(rgb), rgb.toString(16)).toBe(true);
        expect(errors).toEqual([]);
      });

      if (!expectBackend)
        it('loads a GGUF the person picks, and names what is wrong with a file that is not one', async () => {
          mkdirSync(OUT_DIR, { recursive: true });
          const junk = join(OUT_DIR, 'not-a-model.gguf');
          writeFileSync(junk, 'this is not a GGUF file at all');
          await page.setInputFiles('#model-file', junk);
          await page.waitForSelector('#status.error', { timeout: 30_000 });
          expect(await page.textContent('#status')).toMatch(
            /^load failed — CorruptFileError: .*not-a-model\.gguf/,
          );
          await page.setInputFiles('#model-file', model!);
          await page.waitForSelector('#model-info[data-model]', { timeout: 60_000 });
          expect(await page.textContent('#model-info')).toContain('5 layers');
          await page.selectOption('#policy', 'strict');
          const r = await generate(page, 'fp16');
          expect(r.generated).toBe(16);
          expect(r.bits).toBe(16);
        });
    },
  );
}

suite('playground e2e in headless Chromium', FLAGS);
suite('playground e2e in headless Chromium with WebGPU', WEBGPU_FLAGS, 'webgpu');
