/**
 * Browser smoke test: headless Chromium (playwright-core, /usr/bin/chromium or $CHROMIUM_PATH)
 * loads a page from a local server that runs the core conformance cases on navigator.gpu.
 * Skipped, with the reason in the test name, when Chromium is missing or has no WebGPU adapter.
 */
import { existsSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-webgpu-adapter=swiftshader',
];

interface PageResult {
  status: 'pass' | 'fail' | 'skip';
  reason?: string;
  adapter?: string;
  error?: string;
  cases?: { name: string; err: number; tol: number; ok: boolean }[];
}

async function bundlePage(): Promise<string> {
  const { build } = await import('tsup');
  const outDir = join(here, '../node_modules/.kvq-browser-test');
  await build({
    entry: { page: join(here, 'browser/page.ts') },
    outDir,
    format: ['esm'],
    platform: 'browser',
    target: 'es2022',
    bundle: true,
    noExternal: [/.*/],
    external: ['webgpu'],
    splitting: false,
    dts: false,
    sourcemap: false,
    clean: true,
    silent: true,
  });
  const { readFileSync } = await import('node:fs');
  return readFileSync(join(outDir, 'page.js'), 'utf8');
}

async function runPage(): Promise<PageResult> {
  if (!existsSync(chromium))
    return { status: 'skip', reason: `no Chromium at ${chromium} (apt-get install -y chromium)` };
  const js = await bundlePage();
  const server: Server = createServer((req, res) => {
    if (req.url === '/page.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(js);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const { chromium: pw } = await import('playwright-core');
  const browser = await pw.launch({ executablePath: chromium, headless: true, args: FLAGS });
  try {
    const page = await browser.newPage();
    const logs: string[] = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(String(e)));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(
      () => (window as unknown as { __kvqResult?: unknown }).__kvqResult !== undefined,
      null,
      {
        timeout: 240_000,
      },
    );
    const r = (await page.evaluate(
      () => (window as unknown as { __kvqResult?: unknown }).__kvqResult,
    )) as PageResult;
    if (r.status === 'fail' && logs.length) r.error = `${r.error ?? ''}\n${logs.join('\n')}`;
    return r;
  } finally {
    await browser.close();
    server.close();
  }
}

const result = await runPage().catch(
  (err): PageResult => ({ status: 'fail', error: String(err?.stack ?? err) }),
);
afterAll(() => {});

describe.skipIf(result.status === 'skip')(
  result.status === 'skip'
    ? `browser smoke test — SKIPPED: ${result.reason}`
    : `browser smoke test: headless Chromium, WebGPU adapter "${result.adapter ?? '?'}"`,
  () => {
    it('runs the core conformance cases on navigator.gpu and they pass', () => {
      expect(result.error, result.error).toBeUndefined();
      const failed = (result.cases ?? []).filter((c) => !c.ok);
      expect(failed, JSON.stringify(failed)).toEqual([]);
      expect(result.cases?.length ?? 0).toBeGreaterThan(20);
      expect(result.status).toBe('pass');
    });
  },
);
