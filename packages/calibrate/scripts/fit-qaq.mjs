// QAQ-style data-fitted codebooks for the `qaq` preset: separate key and value Lloyd-Max
// codebooks fitted on kvq-ref-35M K/V recorded over War and Peace (tokens 4096..), then evaluated
// against the Gaussian-default `qaq` on WikiText-2 (AQUA-KV protocol).
// Usage (after `pnpm build`): node packages/calibrate/scripts/fit-qaq.mjs [--windows 8] [--tokens 8192] [--json out.json]
import { writeFile } from 'node:fs/promises';
import { fitPresetCodebooks } from '@kvq/calibrate';
import { createCache, getPreset } from '@kvq/core';
import { evaluateCaches } from '@kvq/decoder';
import { loadStudyInputs } from './study-inputs.mjs';

const { args, model, layout, windows, cal, rec } = await loadStudyInputs({ defaultTokens: 8192 });
const base = getPreset('qaq');
const fitted = fitPresetCodebooks(rec, base, { layout });
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
