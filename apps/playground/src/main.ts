/** The playground page: wires the controls to the worker and shows what it reports. */
import type { BackendPreference } from './engine/backend.js';
import { POLICIES, type PolicyName } from './engine/presets.js';
import type { CompareResult, GenerateStep, ModelInfo } from './engine/session.js';
import type { FromWorker, ModelSource, ToWorker } from './protocol.js';
import { drawPerplexityChart } from './ui/chart.js';
import { fixed, formatBytes } from './ui/format.js';
import { drawHeatmap } from './ui/heatmap.js';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker, transfer: Transferable[] = []): void => worker.postMessage(m, transfer);

let info: ModelInfo | null = null;
let busy = false;
let demoText: Record<string, string> = {};

function setStatus(text: string, error = false): void {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', error);
}

function setBusy(b: boolean): void {
  busy = b;
  document.body.dataset.busy = String(b);
  for (const id of ['generate', 'compare']) $<HTMLButtonElement>(id).disabled = b || !info;
  for (const id of ['load-demo', 'model-file', 'backend-pref'])
    ($(id) as HTMLButtonElement | HTMLInputElement).disabled = b;
  $<HTMLButtonElement>('stop').disabled = !b;
}

function setStat(id: string, text: string, value: number | string): void {
  const el = $(id);
  el.textContent = text;
  el.dataset.value = String(value);
}

function fillPolicies(select: HTMLSelectElement, selected: PolicyName): void {
  select.replaceChildren(
    ...(Object.keys(POLICIES) as PolicyName[]).map(
      (p) => new Option(POLICIES[p].label, p, false, p === selected),
    ),
  );
}

function showModel(i: ModelInfo, seconds: number): void {
  info = i;
  $('model-info').textContent =
    `${i.name} (${i.architecture}): ${i.layers} layers, ${i.queryHeads} query / ${i.kvHeads} KV heads, head dim ${i.headDim}, vocabulary ${i.vocab}, context ${i.context}; ${formatBytes(i.fileBytes)} loaded in ${seconds.toFixed(1)} s`;
  $('model-info').dataset.model = i.name;
  const preset = $<HTMLSelectElement>('preset');
  const prev = preset.value;
  preset.replaceChildren(
    ...i.presets.map((p) => {
      const o = new Option(p.available ? p.name : `${p.name} (unavailable: ${p.reason})`, p.name);
      o.disabled = !p.available;
      o.title = p.description;
      return o;
    }),
  );
  preset.value = i.presets.some((p) => p.name === prev && p.available) ? prev : 'kivi-2';
  const boxes = $('compare-presets');
  boxes.replaceChildren(
    ...i.presets.map((p) => {
      const label = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = p.name;
      box.disabled = !p.available || p.name === 'fp16';
      box.checked =
        p.name === 'fp16' || (p.available && ['kivi-2', 'k4v2', 'qaq', 'aqua-2'].includes(p.name));
      label.title = p.available ? p.description : `unavailable: ${p.reason}`;
      label.className = p.available ? '' : 'unavailable';
      label.append(box, ` ${p.name}${p.available ? '' : ' (unavailable)'}`);
      return label;
    }),
  );
  const aqua = i.presets.filter((p) => p.predictor === 'aqua');
  const unavailable = aqua.filter((p) => !p.available);
  $('aqua-note').textContent = unavailable.length
    ? `AQUA-KV presets are unavailable for this model: ${unavailable[0]!.reason}`
    : `AQUA-KV presets use the adapters bundled with @kvq/calibrate for ${i.name}.`;
  setStatus(`Loaded ${i.name}.`);
}

function showStep(step: GenerateStep, preset: string): void {
  const s = step.stats;
  $('output-text').textContent = step.text;
  setStat('stat-preset', preset, preset);
  setStat('stat-generated', String(step.generated), step.generated);
  setStat('stat-cache-tokens', String(s.tokens), s.tokens);
  setStat('stat-kv-bytes', formatBytes(s.bytes), s.bytes);
  setStat('stat-fp16-bytes', formatBytes(s.fp16Bytes), s.fp16Bytes);
  setStat('stat-ratio', `${fixed(s.fp16Bytes / s.bytes, 2)}×`, s.fp16Bytes / s.bytes);
  setStat('stat-bits', fixed(s.bitsPerValue, 3), s.bitsPerValue);
  setStat('stat-stored-bits', fixed(s.storedBitsPerValue, 2), s.storedBitsPerValue);
  setStat('stat-tps', fixed(step.decodeTokensPerSecond, 1), step.decodeTokensPerSecond);
  setStat('stat-prefill', fixed(step.prefillTokensPerSecond, 1), step.prefillTokensPerSecond);
  $('membar-fill').style.width = `${Math.min(100, (100 * s.bytes) / s.fp16Bytes).toFixed(1)}%`;
  if (step.done) {
    document.body.dataset.generated = String(step.generated);
    setStatus(`Generated ${step.generated} tokens with ${preset}.`);
    setBusy(false);
  }
}

function showComparison(r: CompareResult): void {
  drawPerplexityChart($<HTMLCanvasElement>('chart-canvas'), r);
  const table = $<HTMLTableElement>('compare-table');
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  for (const h of [
    'preset',
    'bits/value',
    'stored bits/value',
    'perplexity',
    'Δ ppl vs fp16',
    'KL',
    'top-1',
    's',
  ])
    head.insertCell().textContent = h;
  const ref = r.rows[0]!.perplexity;
  const body = table.createTBody();
  for (const row of r.rows) {
    const tr = body.insertRow();
    tr.dataset.preset = row.name;
    tr.dataset.perplexity = String(row.perplexity);
    tr.dataset.bits = String(row.bitsPerValue);
    for (const c of [
      row.name,
      fixed(row.bitsPerValue, 3),
      fixed(row.storedBitsPerValue, 2),
      fixed(row.perplexity, 4),
      `${fixed((100 * (row.perplexity - ref)) / ref, 2)}%`,
      row.kl.toExponential(2),
      `${fixed(100 * row.top1, 1)}%`,
      fixed(row.seconds, 1),
    ])
      tr.insertCell().textContent = c;
  }
  drawHeatmap($('heatmap'), r);
  $('compare-progress').textContent = `${r.tokens} tokens scored in ${r.windows} window(s).`;
  document.body.dataset.compared = String(r.rows.length);
  setStatus('Comparison done.');
  setBusy(false);
}

worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const m = ev.data;
  switch (m.type) {
    case 'backend': {
      const b = m.backend;
      const el = $('backend');
      el.dataset.kind = b.kind;
      el.textContent =
        b.kind === 'webgpu'
          ? `Backend: WebGPU (@kvq/kernels-webgpu) on "${b.adapter}" for the dense ops (linear, RMSNorm, SwiGLU; test matmul within ${b.checkError.toExponential(1)} of the CPU reference); attention and the KV cache run on the CPU`
          : `Backend: CPU (WebAssembly SIMD) — ${b.reason}`;
      setBusy(false);
      break;
    }
    case 'status':
      setStatus(m.text);
      break;
    case 'loaded':
      showModel(m.info, m.seconds);
      setBusy(false);
      break;
    case 'step':
      showStep(m.step, m.preset);
      break;
    case 'compareProgress':
      $('compare-progress').textContent = `${m.done}/${m.total} chunks (${m.preset})`;
      break;
    case 'compared':
      showComparison(m.result);
      break;
    case 'error':
      setStatus(`${m.op} failed — ${m.name}: ${m.message}`, true);
      document.body.dataset.error = m.message;
      setBusy(false);
      break;
  }
};
worker.onerror = (e) => {
  setStatus(`worker error: ${e.message}`, true);
  setBusy(false);
};

function load(source: ModelSource, transfer: Transferable[] = []): void {
  info = null;
  setBusy(true);
  send({ type: 'load', source, adaptersIndex: '/kvq/adapters/index.json' }, transfer);
}

$('load-demo').addEventListener('click', () => {
  const sel = $<HTMLSelectElement>('demo-model');
  const opt = sel.selectedOptions[0];
  if (!opt) return;
  const text = demoText[opt.value];
  if (text) {
    fetch(text)
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then((t) => {
        $<HTMLTextAreaElement>('compare-text').value = t;
      })
      .catch(() => {});
  }
  load({ kind: 'url', url: opt.dataset.url!, name: opt.value });
});

$<HTMLInputElement>('model-file').addEventListener('change', async (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0];
  if (!file) return;
  const bytes = await file.arrayBuffer();
  load({ kind: 'file', name: file.name, bytes }, [bytes]);
});

$('generate').addEventListener('click', () => {
  if (busy || !info) return;
  setBusy(true);
  delete document.body.dataset.generated;
  $('output-prompt').textContent = $<HTMLTextAreaElement>('prompt').value;
  $('output-text').textContent = '';
  setStatus('Generating…');
  send({
    type: 'generate',
    request: {
      prompt: $<HTMLTextAreaElement>('prompt').value,
      tokens: Number($<HTMLInputElement>('tokens').value),
      preset: $<HTMLSelectElement>('preset').value,
      policy: $<HTMLSelectElement>('policy').value as PolicyName,
    },
  });
});

$('stop').addEventListener('click', () => send({ type: 'stop' }));

$('compare').addEventListener('click', () => {
  if (busy || !info) return;
  const presets = [...$('compare-presets').querySelectorAll<HTMLInputElement>('input:checked')].map(
    (b) => b.value,
  );
  setBusy(true);
  delete document.body.dataset.compared;
  setStatus('Comparing presets…');
  send({
    type: 'compare',
    request: {
      text: $<HTMLTextAreaElement>('compare-text').value,
      presets,
      maxTokens: Number($<HTMLInputElement>('compare-tokens').value),
      window: Number($<HTMLInputElement>('compare-window').value),
      policy: $<HTMLSelectElement>('compare-policy').value as PolicyName,
    },
  });
});

$<HTMLSelectElement>('backend-pref').addEventListener('change', (ev) => {
  setBusy(true);
  send({ type: 'backend', preference: (ev.target as HTMLSelectElement).value as BackendPreference });
});

async function init(): Promise<void> {
  fillPolicies($<HTMLSelectElement>('policy'), 'buffer32');
  fillPolicies($<HTMLSelectElement>('compare-policy'), 'strict');
  const sel = $<HTMLSelectElement>('demo-model');
  try {
    const res = await fetch('/kvq/demo-models.json');
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const list = (await res.json()) as {
      id: string;
      label: string;
      url: string;
      bytes: number | null;
      text: string;
    }[];
    demoText = Object.fromEntries(list.map((m) => [m.id, m.text]));
    sel.replaceChildren(
      ...list.map((m) => {
        const o = new Option(m.bytes === null ? `${m.label} — not found on the server` : m.label, m.id);
        o.dataset.url = m.url;
        o.disabled = m.bytes === null;
        return o;
      }),
    );
  } catch (e) {
    sel.replaceChildren(new Option('demo models are served by the dev/preview server only', ''));
    $<HTMLButtonElement>('load-demo').disabled = true;
    setStatus(`No demo models (${(e as Error).message}); pick a GGUF file.`);
  }
  setBusy(true);
  send({ type: 'backend', preference: 'auto' });
}

void init();
