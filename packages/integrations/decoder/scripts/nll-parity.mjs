// Per-window mean NLL of the reference decoder vs kvq-ref-35M/fixtures.json (HF fp32), on the first
// N WikiText-2 windows (1024 tokens, no BOS, 32-token chunks through an fp32 ArrayKVCache).
// node scripts/nll-parity.mjs [N=8] [model.gguf]   (uses the built dist/)
import { readFileSync } from 'node:fs';
import {
  ArrayKVCache,
  LlamaModel,
  logSoftmaxRows,
  nonOverlappingWindows,
  readGgufFile,
  tokenizerFromGguf,
} from '../dist/index.js';
import { dataDir, modelsDir } from '../dist/node.js';

const n = Number(process.argv[2] ?? 8);
const modelPath = process.argv[3] ?? `${modelsDir()}/kvq-ref-35M/model-f16.gguf`;
const fx = JSON.parse(readFileSync(`${modelsDir()}/kvq-ref-35M/fixtures.json`, 'utf8'));
const file = await readGgufFile(modelPath);
const model = LlamaModel.fromGguf(file);
const tok = tokenizerFromGguf(file.metadata);
const windows = nonOverlappingWindows(
  tok.encode(readFileSync(`${dataDir()}/wiki.test.raw`, 'utf8')),
  1024,
  n,
);
const V = model.config.vocab;
let worst = 0;
let sumOurs = 0;
let sumRef = 0;
let count = 0;
const t0 = performance.now();
for (const [w, ids] of windows.entries()) {
  const cache = new ArrayKVCache(model.layout);
  let nll = 0;
  for (let s = 0; s < ids.length; s += 32) {
    const part = ids.slice(s, s + 32);
    const lp = logSoftmaxRows(await model.forward(part, cache), part.length, V);
    for (let r = 0; r < part.length && s + r + 1 < ids.length; r++) nll -= lp[r * V + ids[s + r + 1]];
  }
  const ref = fx.wikitext.per_window[w];
  worst = Math.max(worst, Math.abs(nll / ref.n_pred - ref.nll));
  sumOurs += nll;
  sumRef += ref.nll * ref.n_pred;
  count += ref.n_pred;
}
console.log(
  `${modelPath}: ${windows.length} windows, ${count} predicted tokens, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
console.log(
  `ppl ours ${Math.exp(sumOurs / count).toFixed(4)} vs HF fp32 ${Math.exp(sumRef / count).toFixed(4)}; max |Δ mean NLL| per window ${worst.toExponential(2)}`,
);
