// The kvq-2 study: AQUA-KV at ≤ 2 bits/value with each ingredient on/off, on kvq-ref-35M and
// WikiText-2 (1024-token windows, AQUA-KV protocol: 4 sinks + 128-token fp16 buffer).
// Calibration: tokens 4096.. of War and Peace. Every variant gets adapters fitted for itself.
// Usage (after `pnpm build`): node packages/calibrate/scripts/kvq2-study.mjs [--windows 8] [--tokens 12288] [--json out.json]
import { writeFile } from 'node:fs/promises';
import { allocateBits, fitAquaAdapters } from '@kvq/calibrate';
import { createCache, defaultPolicy, higgsGridMse } from '@kvq/core';
import { evaluateAgainstFp16, loadStudyInputs } from './study-inputs.mjs';

const t0 = performance.now();
const { args, model, layout, windows, cal, rec } = await loadStudyInputs({
  defaultTokens: 12288,
  onRecord: (n) => process.stderr.write(`recording ${n} calibration tokens…\n`),
});

/** HIGGS 2-D (1-D for 3/4 bits of layer 0) with stored-scale gain (1 − D)^−alpha (alpha 0: none). */
const h = (bits, seed, alpha, dim = bits >= 3.5 || bits === 1 ? 1 : 2) => ({
  kind: 'higgs',
  bits,
  dim,
  block: 128,
  seed,
  ...(alpha ? { scaleGain: (1 - higgsGridMse(bits, dim)) ** -alpha } : {}),
});
const kv = (k, v, alpha) => ({ keys: h(k, 0x6b, alpha), values: h(v, 0x76, alpha) });
const preset = (name, quantizers, layerQuantizers) => ({
  name,
  description: name,
  quantizers,
  layerQuantizers,
  predictor: 'aqua',
  policy: defaultPolicy,
});
const ALPHA = 1;
const widths = [1, 1.5, 2, 2.5, 3];
/** 1 outlier per token kept in fp16 (+ u16 index) around a HIGGS residual quantizer */
const ol = (spec) => ({ kind: 'outliers', axis: 'token', count: 1, inner: spec });
const greedy = (alpha, budget, outliers = false) =>
  allocateBits(rec, {
    layout,
    keyOptions: [...widths, 4]
      .flatMap((b) => (outliers ? [h(b, 0x6b, alpha), ol(h(b, 0x6b, alpha))] : [h(b, 0x6b, alpha)]))
      .map((spec) => ({ spec })),
    valueOptions: [...widths, 4]
      .flatMap((b) => (outliers ? [h(b, 0x76, alpha), ol(h(b, 0x76, alpha))] : [h(b, 0x76, alpha)]))
      .map((spec) => ({ spec })),
    budget,
  }).layerQuantizers;

const variants = [
  preset('aqua-2 plain (k1.5 v1.5, L0 4)', kv(1.5, 1.5, 0), [kv(4, 4, 0)]),
  preset('+ K/V split (k2 v1.5, L0 k4 v2)', kv(2, 1.5, 0), [kv(4, 2, 0)]),
  preset('+ unbiased gain (k1.5 v1.5)', kv(1.5, 1.5, ALPHA), [kv(4, 4, ALPHA)]),
  preset('+ split + gain', kv(2, 1.5, ALPHA), [kv(4, 2, ALPHA)]),
  preset('+ split + gain + greedy layers (≤2.0)', kv(2, 1.5, ALPHA), greedy(ALPHA, 2.0)),
  preset('+ greedy layers, no gain (≤2.0)', kv(2, 1.5, 0), greedy(0, 2.0)),
  preset('+ split + gain + greedy with outlier options (≤2.0)', kv(2, 1.5, ALPHA), greedy(ALPHA, 2.0, true)),
];
const specs = [];
for (const p of variants) {
  process.stderr.write(`fitting ${p.name}…\n`);
  const { adapters } = fitAquaAdapters(rec, { layout, preset: p, model: { name: model.config.name } });
  specs.push({ name: p.name, create: () => createCache({ layout, preset: p, adapters }), preset: p });
}
const { ref, rows } = await evaluateAgainstFp16({ model, layout, windows }, specs);
console.log(
  `kvq-2 study: kvq-ref-35M, WikiText-2, ${windows.length} windows × 1024 (${ref.tokens} predicted tokens), calibration ${cal.length} tokens of War and Peace, ${((performance.now() - t0) / 60000).toFixed(1)} min`,
);
console.log('| variant | bits/value | ppl | Δppl | KL | top-1 |\n| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows)
  console.log(
    `| ${r.variant} | ${r.bitsPerValue.toFixed(3)} | ${r.perplexity.toFixed(3)} | ${(100 * r.relPerplexity).toFixed(2)}% | ${r.kl.toFixed(5)} | ${(100 * r.top1).toFixed(2)}% |`,
  );
const label = (s) => (s.kind === 'outliers' ? `${s.inner.bits}+o` : `${s.bits}`);
for (const i of [4, 6]) {
  console.log(
    `${specs[i].name}: keys/values per layer: ${specs[i].preset.layerQuantizers.map((q) => `${label(q.keys)}/${label(q.values)}`).join(' ')}`,
  );
}
if (args.json)
  await writeFile(args.json, JSON.stringify({ rows, greedy: specs[4].preset.layerQuantizers }, null, 2));
