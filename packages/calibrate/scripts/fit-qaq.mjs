// QAQ-style data-fitted codebooks for the `qaq` preset: separate key and value Lloyd-Max
// codebooks fitted on kvq-ref-35M K/V recorded over War and Peace (tokens 4096..), then evaluated
// against the Gaussian-default `qaq` on WikiText-2 (AQUA-KV protocol).
// Usage (after `pnpm build`): node packages/calibrate/scripts/fit-qaq.mjs [--windows 8] [--tokens 8192] [--json out.json]
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { fitPresetCodebooks, recordKV } from '@kvq/calibrate';
import { createCache, getPreset } from '@kvq/core';
import {
  LlamaModel,
  evaluateCaches,
  nonOverlappingWindows,
  readGgufFile,
  tokenizerFromGguf,
} from '@kvq/decoder';
import { dataDir, defaultModelPath } from '@kvq/decoder/node';

const { values: args } = parseArgs({
  options: {
    windows: { type: 'string', default: '8' },
    tokens: { type: 'string', default: '8192' },
    json: { type: 'string' },
  },
});
const file = await readGgufFile(defaultModelPath());
const model = LlamaModel.fromGguf(file);
const tok = tokenizerFromGguf(file.metadata);
const layout = model.layout;
const cal = tok
  .encode(await readFile(`${dataDir()}/war_and_peace.gutenberg2600.txt`, 'utf8'))
  .slice(4096, 4096 + Number(args.tokens));
const rec = await recordKV(model, cal, { windowTokens: 1024 });
const base = getPreset('qaq');
const fitted = fitPresetCodebooks(rec, base, { layout });
const windows = nonOverlappingWindows(
  tok.encode(await readFile(`${dataDir()}/wiki.test.raw`, 'utf8')),
  1024,
  Number(args.windows),
);
const res = await evaluateCaches({
  model,
  windows,
  reference: { name: 'fp16', create: () => createCache({ layout, preset: 'fp16' }) },
  caches: [base, fitted].map((p) => ({ name: p.name, create: () => createCache({ layout, preset: p }) })),
  chunk: 32,
});
const ref = res[0];
console.log(
  `qaq codebooks: ${cal.length} calibration tokens, ${windows.length} WikiText-2 windows (${ref.tokens} tokens)`,
);
for (const r of res)
  console.log(
    `${r.name.padEnd(8)} bits ${r.bitsPerValue.toFixed(3)} ppl ${r.perplexity.toFixed(3)} (${(100 * (r.perplexity / ref.perplexity - 1)).toFixed(2)}%) KL ${r.kl.toFixed(5)} top-1 ${(100 * r.top1).toFixed(2)}%`,
  );
const json = JSON.stringify(
  { quantizers: fitted.quantizers, attentionAware: fitted.attentionAware },
  null,
  1,
);
console.log(json);
if (args.json) await writeFile(args.json, json);
