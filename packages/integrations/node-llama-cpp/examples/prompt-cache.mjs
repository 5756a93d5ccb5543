// A prompt cache on disk for node-llama-cpp: evaluate a prompt, keep its state as a k4v2 `.kvq`
// file, restore it into a fresh context and continue. Run from the repo (bundled kvq-ref-35M GGUF,
// or KVQ_MODEL=path.gguf): pnpm --filter @kvq/node-llama-cpp build && node packages/integrations/node-llama-cpp/examples/prompt-cache.mjs
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultModelPath } from '@kvq/decoder/node';
import { getLlama } from 'node-llama-cpp';
import {
  chooseKvCacheTypes,
  kvModelFromGguf,
  loadCompressedState,
  saveCompressedState,
} from '../dist/index.js';

const path = defaultModelPath();
const kv = await kvModelFromGguf(path); // layout + RoPE from the GGUF header
const types = chooseKvCacheTypes({ budgetBytes: 3 * 2 ** 20, contextTokens: 1024, layout: kv.layout });
console.log(`llama.cpp cache for 1024 tokens in 3 MiB: keys ${types.keyType}, values ${types.valueType}`);
const llama = await getLlama({ gpu: false });
const model = await llama.loadModel({ modelPath: path });
const prompt = model.tokenize(
  'The history of the city begins in the year 1200, when a small group of traders',
);
const file = join(tmpdir(), 'prompt.kvq');

const a = await model.createContext({ contextSize: 1024, threads: 2 }); // f16 cache: states of it compress
const first = a.getSequence();
await first.evaluateWithoutGeneratingNewTokens(prompt);
const sizes = await saveCompressedState(first, file, { model: kv, preset: 'k4v2' });
console.log(`${file}: ${sizes.bytes} B, llama.cpp's own state ${sizes.llamaStateBytes} B`);
await a.dispose();

const b = await model.createContext({ contextSize: 1024, threads: 2 }); // later, or in another process
const seq = b.getSequence();
await loadCompressedState(seq, file, { model: kv });
const out = [];
for await (const t of seq.evaluate(model.tokenize(' built'), { temperature: 0 })) {
  out.push(t);
  if (out.length === 12) break;
}
console.log(`restored ${prompt.length} tokens; continues:${model.detokenize(out)}`);
await llama.dispose();
