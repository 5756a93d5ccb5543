/// <reference lib="webworker" />
/**
 * The playground's worker: holds the model, runs generation and comparisons off the page's main
 * thread, and reports progress as messages (protocol.ts).
 */
import { type BackendChoice, chooseBackend } from './engine/backend.js';
import { PlaygroundSession } from './engine/session.js';
import type { AdapterIndex, BackendInfo, FromWorker, ModelSource, ToWorker } from './protocol.js';

declare const self: DedicatedWorkerGlobalScope;

let backend: BackendChoice = { kind: 'cpu', reason: 'not chosen yet' };
let session: PlaygroundSession | null = null;
let stop = false;
let queue: Promise<void> = Promise.resolve();

function post(m: FromWorker): void {
  self.postMessage(m);
}

function backendInfo(b: BackendChoice): BackendInfo {
  return b.kind === 'webgpu'
    ? { kind: 'webgpu', adapter: b.adapter, checkError: b.checkError }
    : { kind: 'cpu', reason: b.reason };
}

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${res.statusText} for ${url}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function loadAdapters(s: PlaygroundSession, indexUrl: string): Promise<void> {
  const name = s.model.config.name;
  let index: AdapterIndex;
  try {
    const res = await fetch(indexUrl);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    index = (await res.json()) as AdapterIndex;
  } catch (e) {
    s.setAquaReason(
      `no adapter index at ${indexUrl} (${(e as Error).message}); AQUA-KV adapters are served by the dev/preview server`,
    );
    return;
  }
  const mine = index.files.filter((f) => f.model === name);
  if (mine.length === 0) {
    const models = [...new Set(index.files.map((f) => f.model))].join(', ') || 'none';
    s.setAquaReason(`no AQUA-KV adapters for model "${name}" (bundled adapters are for: ${models})`);
    return;
  }
  for (const f of mine) {
    post({ type: 'status', text: `loading ${f.preset} adapters…` });
    s.addAdapters(f.preset, await fetchBytes(f.url, `${f.preset} adapters`), f.url);
  }
}

async function load(source: ModelSource, adaptersIndex: string): Promise<void> {
  const t0 = performance.now();
  let bytes: Uint8Array;
  if (source.kind === 'url') {
    post({ type: 'status', text: `downloading ${source.name}…` });
    bytes = await fetchBytes(source.url, source.name);
  } else {
    bytes = new Uint8Array(source.bytes);
  }
  post({ type: 'status', text: `parsing ${source.name} (${(bytes.byteLength / 1e6).toFixed(1)} MB)…` });
  session = null;
  const s = PlaygroundSession.load(bytes, source.name, backend.ops);
  await loadAdapters(s, adaptersIndex);
  session = s;
  post({ type: 'loaded', info: s.info(), seconds: (performance.now() - t0) / 1000 });
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'backend': {
      if (backend.kind === 'webgpu') backend.ops.dispose?.();
      backend = await chooseBackend(m.preference);
      if (session) {
        const next = PlaygroundSession.fromFile(session.file, session.fileBytes, backend.ops);
        session.copyAdaptersTo(next);
        session = next;
      }
      post({ type: 'backend', backend: backendInfo(backend) });
      return;
    }
    case 'load':
      return load(m.source, m.adaptersIndex);
    case 'generate': {
      if (!session) throw new Error('no model loaded');
      stop = false;
      const { preset, policy } = m.request;
      await session.generate(
        m.request,
        (step) => post({ type: 'step', step, preset, policy }),
        () => stop,
      );
      return;
    }
    case 'compare': {
      if (!session) throw new Error('no model loaded');
      const result = await session.compare(m.request, (done, total, preset) =>
        post({ type: 'compareProgress', done, total, preset }),
      );
      post({ type: 'compared', result });
      return;
    }
    case 'stop':
      return;
  }
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (m.type === 'stop') {
    stop = true;
    return;
  }
  // one operation at a time, in order
  queue = queue.then(() =>
    handle(m).catch((e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      post({ type: 'error', op: m.type, name: err.name, message: err.message });
    }),
  );
};
