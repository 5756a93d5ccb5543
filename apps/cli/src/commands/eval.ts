import { readFile } from 'node:fs/promises';
import { findBundledAdapters } from '@kvq/calibrate/node';
import { type AquaAdapters, type BackendName, getPreset } from '@kvq/core';
import {
  LlamaModel,
  evaluateCaches,
  nonOverlappingWindows,
  readGgufFile,
  tokenizerFromGguf,
} from '@kvq/decoder';
import { type Command, Option } from 'commander';
import { resolveAdapters } from '../adapters.js';
import { integerArg } from '../args.js';
import { CliError, EXIT } from '../errors.js';
import { resolveDenseOps } from '../eval/backend.js';
import { FP32_ARRAY, PROTOCOL, cacheSpecs } from '../eval/presets.js';
import { evalProgress } from '../eval/progress.js';
import { type EvalReport, formatTable, toRows } from '../eval/report.js';
import { isFile, resolveModelAndText } from '../inputs.js';
import { type JsonOption, jsonOnStdout, printResult } from '../output.js';
import { evalPlotSpec } from '../plot/eval-plot.js';
import { checkPlotPath, writePlot } from '../plot/render.js';
import { progressMode } from '../progress.js';

/** Options of `kvq eval` after parsing. */
export interface EvalCommandOptions {
  model?: string;
  text?: string;
  presets: string;
  ctx?: number;
  windows?: number;
  quick?: boolean;
  strict?: boolean;
  adapters?: string;
  backend: BackendName;
  json?: JsonOption;
  plot?: string;
  /** a saved `--json` report to plot instead of running */
  results?: string;
  progress: boolean;
}

/**
 * Default presets of `kvq eval`: the baselines beside the AQUA presets (whose adapters for the
 * bundled model ship with @kvq/calibrate; another model needs --adapters from `kvq calibrate`).
 */
export const DEFAULT_PRESETS = 'fp16,kivi-2,k4v2,qaq,aqua-2.5,aqua-2,kvq-2';
/** Windows evaluated when --windows is not given (--quick: 2 windows of 256 tokens). */
export const DEFAULT_WINDOWS = 4;
const QUICK = { ctx: 256, windows: 2 };

/** Registers `kvq eval` on `program`. */
export function registerEval(program: Command): void {
  program
    .command('eval')
    .description(
      'Perplexity, KL and top-1 agreement of compressed KV caches vs fp16 on a text (DESIGN.md protocol: non-overlapping windows, 32-token chunks, 4 fp16 sinks, fp16 buffer 128)',
    )
    .option(
      '--model <gguf>',
      'GGUF model (default: $KVQ_MODEL or ../shared/models/kvq-ref-35M/model-f16.gguf)',
    )
    .option(
      '--text <file>',
      'UTF-8 text to score, tokenized once without BOS (default: ../shared/data/wiki.test.raw)',
    )
    .option(
      '--presets <list>',
      'comma-separated presets; fp16 is always run first as the reference',
      DEFAULT_PRESETS,
    )
    .option(
      '--ctx <n>',
      'window length in tokens (default: the model context length; --quick: 256)',
      integerArg('--ctx'),
    )
    .option(
      '--windows <n>',
      `number of windows (default ${DEFAULT_WINDOWS}; --quick: 2)`,
      integerArg('--windows'),
    )
    .option('--quick', 'quick mode for tests: 2 windows of 256 tokens unless --ctx/--windows say otherwise')
    .option('--strict', 'strict protocol: no fp16 buffer, only the 4 sinks kept in full precision')
    .option(
      '--adapters <file>',
      'AQUA-KV adapter file (from `kvq calibrate`); may contain {preset}. Default: the files shipped with @kvq/calibrate for the model',
    )
    .addOption(
      new Option('--backend <name>', 'backend of the dense ops')
        .choices(['cpu', 'cuda', 'webgpu'])
        .default('cpu'),
    )
    .option(
      '--json [out]',
      'print the results as JSON instead of the table; with a file name, print the table and also write the JSON there',
    )
    .option(
      '--plot <out.svg|out.png>',
      'also draw perplexity vs bits/value (one point per preset, fp16 as a dashed line) as SVG or PNG',
    )
    .option(
      '--results <eval.json>',
      'with --plot: draw a report saved by `kvq eval --json <file>` instead of running',
    )
    .option('--no-progress', 'no progress bar')
    .action(async (opts: EvalCommandOptions) => {
      if (opts.results) await plotSavedReport(opts.results, opts.plot);
      else await runEval(opts);
    });
}

/** `kvq eval --results <eval.json> --plot <out>`: draws a saved report. */
export async function plotSavedReport(path: string, plot: string | undefined): Promise<void> {
  if (!plot) throw new CliError('--results needs --plot <out.svg>', undefined, EXIT.usage);
  checkPlotPath(plot);
  if (!isFile(path))
    throw new CliError(
      `results file not found: ${path}`,
      'pass a file from `kvq eval --json <file>`',
      EXIT.input,
    );
  let report: EvalReport;
  try {
    report = JSON.parse(await readFile(path, 'utf8')) as EvalReport;
  } catch (err) {
    throw new CliError(`${path}: not JSON (${(err as Error).message})`, undefined, EXIT.input);
  }
  const ok =
    Array.isArray(report?.results) &&
    report.results.length > 0 &&
    report.results.every(
      (r) =>
        typeof r?.preset === 'string' && Number.isFinite(r.bitsPerValue) && Number.isFinite(r.perplexity),
    ) &&
    typeof report.model === 'string' &&
    typeof report.protocol?.name === 'string';
  if (!ok)
    throw new CliError(
      `${path}: not a kvq eval report (needs model, protocol and results with preset, bitsPerValue, perplexity)`,
      'pass a file from `kvq eval --json <file>`',
      EXIT.input,
    );
  await writePlot(evalPlotSpec(report), plot);
  process.stdout.write(`wrote ${plot}\n`);
}

/** Runs `kvq eval` and returns the report (also printed, and written with --json). */
export async function runEval(opts: EvalCommandOptions): Promise<EvalReport> {
  const { modelPath, textPath } = resolveModelAndText(opts);
  if (opts.plot) checkPlotPath(opts.plot);
  const names = opts.presets
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0)
    throw new CliError('--presets is empty', `e.g. --presets ${DEFAULT_PRESETS}`, EXIT.usage);

  const file = await readGgufFile(modelPath);
  const ops = opts.backend === 'cpu' ? undefined : await resolveDenseOps(opts.backend);
  const model = LlamaModel.fromGguf(file, { ops });
  const tokenizer = tokenizerFromGguf(file.metadata, modelPath);
  // Adapters per AQUA preset: --adapters (a file, or a pattern with {preset}), else the files
  // shipped with @kvq/calibrate for this model; none found → MissingAdaptersError from cacheSpecs.
  const adapters = new Map<string, AquaAdapters>();
  const adapterFiles: Record<string, string> = {};
  for (const name of names) {
    if (name === FP32_ARRAY || getPreset(name).predictor !== 'aqua') continue;
    const explicit = opts.adapters?.replaceAll('{preset}', name);
    if (!explicit && !findBundledAdapters(model.config.name, name)) continue;
    const found = await resolveAdapters({
      preset: name,
      model: model.config.name,
      layout: model.layout,
      explicit,
    });
    if (!found) continue;
    adapters.set(name, found.adapters);
    adapterFiles[name] = found.path;
  }
  const { reference, caches, policy } = cacheSpecs(names, model.layout, {
    strict: opts.strict ?? false,
    adapters,
  });

  const ctx = opts.ctx ?? (opts.quick ? QUICK.ctx : model.config.contextLength);
  const windowsWanted = opts.windows ?? (opts.quick ? QUICK.windows : DEFAULT_WINDOWS);
  const text = await readFile(textPath, 'utf8');
  const windows = nonOverlappingWindows(tokenizer.encode(text), ctx, windowsWanted);
  if (windows.length === 0)
    throw new CliError(`the text ${textPath} has fewer than 2 tokens`, 'pass a longer --text', EXIT.input);

  // in a pipe (CI logs, `| tee`), a plain line every 2 s: the default run takes minutes
  const bar = evalProgress(
    progressMode({ progress: opts.progress, jsonStdout: jsonOnStdout(opts.json), linesWhenPiped: true }),
  );
  let results: Awaited<ReturnType<typeof evaluateCaches>>;
  try {
    results = await evaluateCaches({
      model,
      windows,
      reference,
      caches,
      chunk: PROTOCOL.chunk,
      onProgress: bar.update,
    });
  } finally {
    bar.stop();
  }
  const report: EvalReport = {
    model: modelPath,
    text: textPath,
    ctx,
    tokens: results[0]!.tokens,
    backend: model.ops.name === 'cpu' && model.simd ? 'cpu (wasm-simd)' : model.ops.name,
    protocol: {
      name: opts.strict ? 'strict' : 'aqua-kv',
      chunk: PROTOCOL.chunk,
      sinkTokens: policy.sinkTokens,
      bufferTokens: policy.bufferTokens,
      bos: false,
      keys: 'pre-RoPE',
      windows: windows.length,
    },
    command: commandLine(),
    adapters: adapterFiles,
    results: toRows(results),
  };
  if (opts.plot) await writePlot(evalPlotSpec(report), opts.plot);
  await printResult(opts.json, report, formatTable(report));
  if (opts.plot && !jsonOnStdout(opts.json)) process.stdout.write(`wrote ${opts.plot}\n`);
  return report;
}

function commandLine(): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);
  return ['kvq', ...process.argv.slice(2).map(quote)].join(' ');
}
