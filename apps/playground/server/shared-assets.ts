/**
 * A Vite plugin that serves the demo models, texts and bundled AQUA-KV adapters to the page from
 * where they live (the project's shared folder and @kvq/calibrate's adapters folder), for both
 * `vite` (dev) and `vite preview`. Nothing is copied into the repository or into `dist`.
 *
 * Shared folder: `$KVQ_SHARED_DIR`, else `$KVQ_MODELS_DIR` / `$KVQ_DATA_DIR`, else `<repo>/../shared`.
 */
import { createReadStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundledAdaptersDir } from '@kvq/calibrate/node';
import { dataDir, modelsDir } from '@kvq/decoder/node';
import type { Connect, Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));

/** A demo model the server offers. */
export interface DemoModel {
  readonly id: string;
  readonly label: string;
  /** path relative to the models folder */
  readonly file: string;
  /** the text the comparison uses by default (a file of the data folder) */
  readonly text: string;
}

/** The demo models: stories260K (tiny, fast) and kvq-ref-35M (q8_0, the project's reference model). */
export const DEMO_MODELS: readonly DemoModel[] = [
  { id: 'stories260K', label: 'stories260K (1 MB, tiny)', file: 'stories260K.gguf', text: 'tinystories' },
  {
    id: 'kvq-ref-35M',
    label: 'kvq-ref-35M q8_0 (38 MB)',
    file: 'kvq-ref-35M/model-q8_0.gguf',
    text: 'wikitext',
  },
];

/** Texts for the comparison: the first {@link TEXT_CHARS} characters of each. */
export const TEXTS: Readonly<Record<string, string>> = {
  tinystories: 'tinystories_sample_30k.txt',
  wikitext: 'wiki.test.raw',
};
export const TEXT_CHARS = 8000;

/** Where the shared models and data are. */
export function sharedFolders(): { models: string; data: string } {
  const shared = process.env.KVQ_SHARED_DIR;
  if (shared) return { models: join(shared, 'models'), data: join(shared, 'data') };
  return { models: modelsDir(here), data: dataDir(here) };
}

/** The demo-model list the page reads (`/kvq/demo-models.json`). */
export function demoModelList(models: string): {
  id: string;
  label: string;
  url: string;
  bytes: number | null;
  text: string;
}[] {
  return DEMO_MODELS.map((m) => {
    const path = join(models, m.file);
    return {
      id: m.id,
      label: m.label,
      url: `/kvq/models/${m.id}.gguf`,
      bytes: existsSync(path) ? statSync(path).size : null,
      text: `/kvq/texts/${m.text}.txt`,
    };
  });
}

/** The adapter files of @kvq/calibrate (`<model>.<preset>.safetensors`) as the page's index. */
export function adapterIndex(): { files: { model: string; preset: string; url: string }[] } {
  const dir = bundledAdaptersDir();
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.safetensors')) : [];
  return {
    files: files.flatMap((f) => {
      const m = /^(.+)\.(aqua-3|aqua-2\.5|aqua-2|kvq-2)\.safetensors$/.exec(f);
      return m ? [{ model: m[1]!, preset: m[2]!, url: `/kvq/adapters/${f}` }] : [];
    }),
  };
}

function sendFile(res: ServerResponse, path: string): void {
  if (!existsSync(path)) {
    res.statusCode = 404;
    res.end(`not found: ${path} (set KVQ_SHARED_DIR to the folder with models/ and data/)`);
    return;
  }
  res.setHeader('content-type', 'application/octet-stream');
  res.setHeader('content-length', String(statSync(path).size));
  createReadStream(path).pipe(res);
}

function sendJson(res: ServerResponse, value: unknown): void {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(value));
}

/** The middleware: `/kvq/demo-models.json`, `/kvq/models/<id>.gguf`, `/kvq/texts/<id>.txt`, `/kvq/adapters/…`. */
export function sharedAssetsMiddleware(): Connect.NextHandleFunction {
  return (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const url = (req.url ?? '').split('?')[0]!;
    if (!url.startsWith('/kvq/')) return next();
    const { models, data } = sharedFolders();
    if (url === '/kvq/demo-models.json') return sendJson(res, demoModelList(models));
    if (url === '/kvq/adapters/index.json') return sendJson(res, adapterIndex());
    let m = /^\/kvq\/models\/([\w.-]+)\.gguf$/.exec(url);
    const model = m && DEMO_MODELS.find((d) => d.id === m![1]);
    if (model) return sendFile(res, join(models, model.file));
    m = /^\/kvq\/texts\/(\w+)\.txt$/.exec(url);
    if (m && TEXTS[m[1]!]) {
      const path = join(data, TEXTS[m[1]!]!);
      if (!existsSync(path)) return sendFile(res, path);
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      return res.end(readFileSync(path, 'utf8').slice(0, TEXT_CHARS));
    }
    m = /^\/kvq\/adapters\/([\w.-]+\.safetensors)$/.exec(url);
    if (m && adapterIndex().files.some((f) => f.url === url))
      return sendFile(res, join(bundledAdaptersDir(), m[1]!));
    res.statusCode = 404;
    res.end(`not found: ${url}`);
  };
}

/** The Vite plugin (dev server and preview server). */
export function kvqSharedAssets(): Plugin {
  return {
    name: 'kvq-shared-assets',
    configureServer(server) {
      server.middlewares.use(sharedAssetsMiddleware());
    },
    configurePreviewServer(server) {
      server.middlewares.use(sharedAssetsMiddleware());
    },
  };
}
