// CPU prefill and decode throughput of the reference decoder (uses the built dist/).
// node scripts/prefill-bench.mjs [model.gguf] [--tokens 1024] [--chunk 32] [--runs 3] [--no-js]
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { ArrayKVCache, LlamaModel, readGgufFile, tokenizerFromGguf } from '../dist/index.js';
import { dataDir, defaultModelPath } from '../dist/node.js';

const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const modelPath = args[0] && !args[0].startsWith('--') ? args[0] : defaultModelPath();
const tokens = flag('--tokens', 1024);
const chunk = flag('--chunk', 32);
const runs = flag('--runs', 3);
const file = await readGgufFile(modelPath);
const tok = tokenizerFromGguf(file.metadata);
const ids = tok
  .encode(readFileSync(`${dataDir()}/wiki.test.raw`, 'utf8').slice(0, tokens * 8))
  .slice(0, tokens);

async function prefill(model) {
  const cache = new ArrayKVCache(model.layout);
  const t = performance.now();
  for (let i = 0; i < ids.length; i += chunk)
    await model.forward(ids.slice(i, i + chunk), cache, { logits: 'all' });
  return ids.length / ((performance.now() - t) / 1000);
}
async function decode(model, steps = 64) {
  const cache = new ArrayKVCache(model.layout);
  await model.forward(ids.slice(0, 256), cache, { logits: 'none' });
  const t = performance.now();
  for (let i = 0; i < steps; i++) await model.forward([ids[256 + i]], cache, { logits: 'last' });
  return steps / ((performance.now() - t) / 1000);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `model ${modelPath}\n${ids.length} tokens of wiki.test.raw, ${chunk}-token chunks, logits for every token, fp32 ArrayKVCache`,
);
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model}, node ${process.version}, load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
for (const simd of args.includes('--no-js') ? [true] : [true, false]) {
  const model = LlamaModel.fromGguf(file, { simd });
  const label = model.simd ? 'wasm-simd' : 'js';
  const p = [];
  for (let r = 0; r < runs; r++) p.push(await prefill(model));
  const d = await decode(model);
  console.log(
    `${label.padEnd(10)} prefill ${median(p).toFixed(1)} tok/s (runs: ${p.map((x) => x.toFixed(1)).join(', ')}); decode at 256-320 ctx ${d.toFixed(1)} tok/s`,
  );
}
