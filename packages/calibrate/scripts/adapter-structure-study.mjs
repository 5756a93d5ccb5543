// The adapter-structure study: what block-diagonal (per-KV-head) AQUA-KV adapters cost against
// AQUA-KV's full ones, on kvq-ref-35M and WikiText-2 (1024-token windows, AQUA-KV protocol: 4 sinks
// + 128-token fp16 buffer). Presets aqua-2.5 and kvq-2, each with full and per-kv-head adapters,
// all fitted on the same calibration tokens (tokens 4096.. of War and Peace); fp16 is the reference.
// Usage (after building core, decoder and calibrate):
//   node packages/calibrate/scripts/adapter-structure-study.mjs [--windows 8] [--tokens 12288] [--json out.json]
import { writeFile } from 'node:fs/promises';
import { fitAndEvaluate, loadStudyInputs } from './study-inputs.mjs';

const t0 = performance.now();
const minutes = () => ((performance.now() - t0) / 60000).toFixed(1);
const { args, model, layout, windows, cal, rec } = await loadStudyInputs({
  defaultTokens: 12288,
  onRecord: (n) => process.stderr.write(`recording ${n} calibration tokens… (${minutes()} min)\n`),
});

const { ref, rows, fits } = await fitAndEvaluate(
  { model, layout, windows, rec },
  ['aqua-2.5', 'kvq-2'].flatMap((preset) =>
    ['full', 'per-kv-head'].map((structure) => ({
      name: `${preset} ${structure}`,
      preset,
      options: { structure },
    })),
  ),
  (step) => process.stderr.write(`${step}… (${minutes()} min)\n`),
);
const ev = (x) => (x === null ? '–' : x.toFixed(3));
console.log(
  `adapter-structure study: kvq-ref-35M (${layout.kvHeads} KV heads × headDim ${layout.headDim}), WikiText-2, ${windows.length} windows × 1024 (${ref.tokens} predicted tokens), calibration ${cal.length} tokens of War and Peace (from token 4096), ${minutes()} min`,
);
console.log(
  'key/value EV: mean explained variance of the predictors over layers 1.. on the calibration tokens',
);
console.log(
  '| variant | bits/value | ppl | Δppl vs fp16 | KL | top-1 | key EV | value EV |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
);
for (const r of rows)
  console.log(
    `| ${r.variant} | ${r.bitsPerValue.toFixed(3)} | ${r.perplexity.toFixed(3)} | ${(100 * r.relPerplexity).toFixed(2)}% | ${r.kl.toFixed(5)} | ${(100 * r.top1).toFixed(2)}% | ${ev(r.keyExplainedVariance)} | ${ev(r.valueExplainedVariance)} |`,
  );
if (args.json)
  await writeFile(
    args.json,
    JSON.stringify(
      {
        layout,
        windows: windows.length,
        predictedTokens: ref.tokens,
        calibrationTokens: cal.length,
        minutes: Number(minutes()),
        rows,
        fitReports: fits.map(({ variant, report }) => ({ variant, report })),
      },
      null,
      2,
    ),
  );
