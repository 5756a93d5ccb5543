// The inputs every calibration study script shares: its command line (--windows, --tokens, --json,
// and a script's own `options` for node:util parseArgs),
// kvq-ref-35M (or $KVQ_MODEL), the WikiText-2 evaluation windows (1024 tokens, non-overlapping) and
// the calibration tokens (tokens 4096.. of War and Peace), recorded as K/V of every layer.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { fitAquaAdapters, recordKV } from '@kvq/calibrate';
import { createCache, getPreset } from '@kvq/core';
import {
  LlamaModel,
  evaluateCaches,
  nonOverlappingWindows,
  readGgufFile,
  tokenizerFromGguf,
} from '@kvq/decoder';
import { dataDir, defaultModelPath } from '@kvq/decoder/node';

/**
 * Parses the command line (defaults: 8 windows, `defaultTokens` calibration tokens; `options`: the
 * script's own parseArgs options), loads the model, tokenizes both texts and records the calibration
 * K/V. `onRecord(tokens)` is called before recording.
 */
export async function loadStudyInputs({ defaultTokens, onRecord, options } = {}) {
  const { values: args } = parseArgs({
    options: {
      windows: { type: 'string', default: '8' },
      tokens: { type: 'string', default: String(defaultTokens ?? 12288) },
      json: { type: 'string' },
      ...options,
    },
  });
  const file = await readGgufFile(defaultModelPath());
  const model = LlamaModel.fromGguf(file);
  const tok = tokenizerFromGguf(file.metadata);
  const windows = nonOverlappingWindows(
    tok.encode(await readFile(`${dataDir()}/wiki.test.raw`, 'utf8')),
    1024,
    Number(args.windows),
  );
  const cal = tok
    .encode(await readFile(`${dataDir()}/war_and_peace.gutenberg2600.txt`, 'utf8'))
    .slice(4096, 4096 + Number(args.tokens));
  onRecord?.(cal.length);
  const rec = await recordKV(model, cal, { windowTokens: 1024 });
  return { args, model, layout: model.layout, windows, cal, rec };
}

/**
 * Evaluates `caches` ({ name, create }) on the study's windows against an fp16 cache (32-token chunks)
 * and returns the reference's result and one row per cache (the reference first): variant,
 * bitsPerValue, perplexity, relPerplexity (vs fp16), kl, top1.
 */
export async function evaluateAgainstFp16({ model, layout, windows }, caches) {
  const res = await evaluateCaches({
    model,
    windows,
    reference: { name: 'fp16', create: () => createCache({ layout, preset: 'fp16' }) },
    caches,
    chunk: 32,
  });
  const ref = res[0];
  const rows = res.map((r) => ({
    variant: r.name,
    bitsPerValue: r.bitsPerValue,
    perplexity: r.perplexity,
    relPerplexity: r.perplexity / ref.perplexity - 1,
    kl: r.kl,
    top1: r.top1,
  }));
  return { ref, rows };
}

const meanOf = (xs) => {
  const ys = xs.filter((x) => x !== null);
  return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : null;
};

/**
 * Fits AQUA-KV adapters for each variant ({ name, preset: name, options: fitAquaAdapters options
 * beside layout, preset and model }) on the recorded calibration K/V, calling `onFit(name)` before each,
 * and returns the caches to evaluate ({ name, create }) and one fit summary per variant: variant,
 * options (the adapters' calibration record), the predictors' mean explained variance of keys and
 * values over the layers that have one (null: none has), the mean relative error after prediction and
 * quantization over layers 1.., and the per-layer report.
 */
function fitVariants({ model, layout, rec }, variants, onFit) {
  const caches = [];
  const fits = [];
  for (const { name, preset: presetName, options } of variants) {
    onFit?.(name);
    const preset = getPreset(presetName);
    const { adapters, report } = fitAquaAdapters(rec, {
      layout,
      preset,
      model: { name: model.config.name },
      ...options,
    });
    fits.push({
      variant: name,
      options: adapters.calibration,
      keyExplainedVariance: meanOf(report.map((r) => r.keyExplainedVariance)),
      valueExplainedVariance: meanOf(report.map((r) => r.valueExplainedVariance)),
      keyRelError: meanOf(report.slice(1).map((r) => r.keyRelError)),
      valueRelError: meanOf(report.slice(1).map((r) => r.valueRelError)),
      report,
    });
    caches.push({ name, create: () => createCache({ layout, preset, adapters }) });
  }
  return { caches, fits };
}

/**
 * Fits each variant (see {@link fitVariants}) and evaluates its cache against fp16 (see
 * {@link evaluateAgainstFp16}); `log(step)` reports progress. Returns the reference's result, the rows
 * with their fit summaries beside them, and the fit summaries.
 */
export async function fitAndEvaluate(inputs, variants, log) {
  const { caches, fits } = fitVariants(inputs, variants, (name) => log?.(`fitting ${name}`));
  log?.(`evaluating ${inputs.windows.length} windows × ${caches.length + 1} caches`);
  const { ref, rows } = await evaluateAgainstFp16(inputs, caches);
  return { ref, rows: withFits(rows, fits), fits };
}

/** The evaluated rows with their variant's fit summary (see {@link fitVariants}) beside them. */
function withFits(rows, fits) {
  return rows.map((r) => {
    const f = fits.find((x) => x.variant === r.variant);
    return {
      ...r,
      keyExplainedVariance: f?.keyExplainedVariance ?? null,
      valueExplainedVariance: f?.valueExplainedVariance ?? null,
      keyRelError: f?.keyRelError ?? null,
      valueRelError: f?.valueRelError ?? null,
    };
  });
}
