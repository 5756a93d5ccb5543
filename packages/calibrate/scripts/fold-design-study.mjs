// The fold-design study: what the adapter designs cost that a fused decoding kernel can FOLD exactly
// (attention over layer l computed from layer l−1's attention sums instead of reconstructing layer
// l−1 for every cached token), against AQUA-KV's full adapters and no predictor at all, on
// kvq-ref-35M and WikiText-2 (1024-token windows, AQUA-KV protocol: 4 sinks + 128-token fp16 buffer),
// at each preset's widths (its quantizers unchanged; only the adapters differ). Designs:
//   (a) full        AQUA-KV as published: K_l from K̃_{l−1}, V_l from [K̃_l, Ṽ_{l−1}], dense
//   (b) per-head    the same, block-diagonal per KV head
//   (c) none        no predictor: the preset's quantizers on K and V directly (anchorEvery 1)
//   (d) K none      keys: no predictor; values from Ṽ_{l−1} only, per KV head
//   (e) K rope      keys: rope-diagonal (complex scalar per RoPE pair, no bias); values as (d)
//   (f) (e) A4      (e) with anchor layers 0, 4, 8 (stored without prediction)
//   (g) (e) A2      (e) with anchor layers 0, 2, 4, …
//   (h) (e) A3      (e) with anchor layers 0, 3, 6, 9
//   (i–k) (d) A4/A3/A2   (d) with anchors every 4, 3, 2 layers
// (a fused kernel folds at most 3 predicted layers per anchor: @kvq/kernels-cuda decodeAttentionValueChain)
// All fitted on the same calibration tokens (tokens 4096.. of War and Peace); fp16 is the reference.
// Usage (after building core, decoder and calibrate):
//   node packages/calibrate/scripts/fold-design-study.mjs [--windows 8] [--tokens 12288] \
//     [--presets aqua-2.5,kvq-2] [--designs a,b,…] [--json out.json]   (--designs: the letters to run; all by default)
import { writeFile } from 'node:fs/promises';
import { fitAndEvaluate, loadStudyInputs } from './study-inputs.mjs';

const t0 = performance.now();
const minutes = () => ((performance.now() - t0) / 60000).toFixed(1);
const { args, model, layout, windows, cal, rec } = await loadStudyInputs({
  defaultTokens: 12288,
  options: {
    presets: { type: 'string', default: 'aqua-2.5,kvq-2' },
    designs: { type: 'string', default: 'a,b,c,d,e,f,g,h,i,j,k' },
  },
  onRecord: (n) => process.stderr.write(`recording ${n} calibration tokens… (${minutes()} min)\n`),
});
// the RoPE pairing of the recorded (pre-RoPE) keys, from the model's own config
const rope = model.config.rope;
process.stderr.write(`layout ${JSON.stringify(layout)}, rope ${JSON.stringify(rope)}\n`);

const e = { structure: 'per-kv-head', keyPredictor: 'rope-diagonal', rope, valueInputs: 'values' };
const designs = [
  ['(a) full', { structure: 'full' }],
  ['(b) per-kv-head', { structure: 'per-kv-head' }],
  ['(c) no predictor', { anchorEvery: 1 }],
  ['(d) K none, V←V per head', { structure: 'per-kv-head', keyPredictor: 'none', valueInputs: 'values' }],
  ['(e) K rope-diag, V←V per head', e],
  ['(f) (e) + anchorEvery 4', { ...e, anchorEvery: 4 }],
  ['(g) (e) + anchorEvery 2', { ...e, anchorEvery: 2 }],
  ['(h) (e) + anchorEvery 3', { ...e, anchorEvery: 3 }],
  [
    '(i) (d) + anchorEvery 4',
    { structure: 'per-kv-head', keyPredictor: 'none', valueInputs: 'values', anchorEvery: 4 },
  ],
  [
    '(j) (d) + anchorEvery 3',
    { structure: 'per-kv-head', keyPredictor: 'none', valueInputs: 'values', anchorEvery: 3 },
  ],
  [
    '(k) (d) + anchorEvery 2',
    { structure: 'per-kv-head', keyPredictor: 'none', valueInputs: 'values', anchorEvery: 2 },
  ],
].filter(([name]) => args.designs.split(',').includes(name.slice(1, 2)));
if (!designs.length) throw new Error(`--designs ${args.designs}: no design of a–k`);

const { ref, rows, fits } = await fitAndEvaluate(
  { model, layout, windows, rec },
  args.presets
    .split(',')
    .flatMap((preset) =>
      designs.map(([design, options]) => ({ name: `${preset} ${design}`, preset, options })),
    ),
  (step) => process.stderr.write(`${step}… (${minutes()} min)\n`),
);
const ev = (x) => (x === null ? '–' : x.toFixed(3));
const ev4 = (x) => (x === null ? '–' : x.toFixed(4));
console.log(
  `fold-design study: kvq-ref-35M (${layout.layers} layers, ${layout.kvHeads} KV heads × headDim ${layout.headDim}, RoPE ${rope.style} over ${rope.dims} dims), WikiText-2, ${windows.length} windows × 1024 (${ref.tokens} predicted tokens), calibration ${cal.length} tokens of War and Peace (from token 4096), ${minutes()} min`,
);
console.log(
  'key/value EV: mean explained variance 1 − ‖X − X̂‖²/‖X − mean(X)‖² of the predictors on the calibration tokens, over the layers that have one (– : none has; a bias-free map can score < 0 where the mean is large); key/value err: mean ‖X − X̃‖²/‖X‖² after prediction and quantization, layers 1..',
);
console.log(
  '| variant | bits/value | key EV | value EV | key err | value err | KL | ppl | Δppl vs fp16 | top-1 |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
);
for (const r of rows)
  console.log(
    `| ${r.variant} | ${r.bitsPerValue.toFixed(4)} | ${ev(r.keyExplainedVariance)} | ${ev(r.valueExplainedVariance)} | ${ev4(r.keyRelError)} | ${ev4(r.valueRelError)} | ${r.kl.toFixed(5)} | ${r.perplexity.toFixed(3)} | ${(100 * r.relPerplexity).toFixed(2)}% | ${(100 * r.top1).toFixed(2)}% |`,
  );
if (args.json)
  await writeFile(
    args.json,
    JSON.stringify(
      {
        layout,
        rope,
        windows: windows.length,
        predictedTokens: ref.tokens,
        calibrationTokens: cal.length,
        minutes: Number(minutes()),
        rows,
        fits: fits.map(({ variant, options, report }) => ({ variant, options, report })),
      },
      null,
      2,
    ),
  );
