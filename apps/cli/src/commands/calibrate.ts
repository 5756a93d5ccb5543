import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type LayerFitReport, fitAquaAdapters, recordKV } from '@kvq/calibrate';
import { getPreset } from '@kvq/core';
import { saveAdapters } from '@kvq/core/node';
import { LlamaModel, readGgufFile, tokenizerFromGguf } from '@kvq/decoder';
import { dataDir } from '@kvq/decoder/node';
import type { Command } from 'commander';
import { integerArg } from '../args.js';
import { CliError, EXIT } from '../errors.js';
import { resolveModelAndText } from '../inputs.js';
import { type JsonOption, jsonOnStdout, printResult } from '../output.js';
import { createProgress, progressMode } from '../progress.js';

/** Options of `kvq calibrate` after parsing. */
export interface CalibrateCommandOptions {
  model?: string;
  text?: string;
  tokens: number;
  skip: number;
  window: number;
  preset: string;
  out: string;
  json?: JsonOption;
  progress: boolean;
}

/** The default calibration text: War and Peace (never the WikiText evaluation text). */
export function defaultCalibrationText(): string {
  return join(dataDir(), 'war_and_peace.gutenberg2600.txt');
}

/** Registers `kvq calibrate` on `program`. */
export function registerCalibrate(program: Command): void {
  program
    .command('calibrate')
    .description(
      'Record K/V of a model on calibration text and fit AQUA-KV adapters (ridge regression, layer by layer, on reconstructed K/V) for one or more presets',
    )
    .option(
      '--model <gguf>',
      'GGUF model (default: $KVQ_MODEL or ../shared/models/kvq-ref-35M/model-f16.gguf)',
    )
    .option(
      '--text <file>',
      'calibration text (default: ../shared/data/war_and_peace.gutenberg2600.txt; never the evaluation text)',
    )
    .option('--tokens <n>', 'calibration tokens', integerArg('--tokens'), 16384)
    .option(
      '--skip <n>',
      'tokens of the text skipped first (e.g. the licence header)',
      integerArg('--skip', 0),
      4096,
    )
    .option('--window <n>', 'tokens per recorded window (default 1024)', integerArg('--window'), 1024)
    .option('--preset <names>', 'AQUA preset(s), comma-separated', 'aqua-2.5')
    .option(
      '--out <file>',
      'output adapter file; with several presets it must contain {preset}',
      'adapters.{preset}.safetensors',
    )
    .option(
      '--json [out]',
      'print the fit report as JSON instead of text; with a file name, print the text and also write the JSON there',
    )
    .option('--no-progress', 'no progress on stderr (a bar on a terminal, plain lines in a pipe)')
    .action(async (opts: CalibrateCommandOptions) => {
      await runCalibrate(opts);
    });
}

/** Runs `kvq calibrate`; returns the per-preset fit reports. */
export async function runCalibrate(opts: CalibrateCommandOptions): Promise<Record<string, LayerFitReport[]>> {
  const { modelPath, textPath } = resolveModelAndText({
    model: opts.model,
    text: opts.text ?? defaultCalibrationText(),
  });
  if (/wiki\.test/.test(textPath)) {
    throw new CliError(
      `refusing to calibrate on the evaluation text ${textPath}`,
      'use another text, e.g. war_and_peace.gutenberg2600.txt',
      EXIT.usage,
    );
  }
  const names = opts.preset
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const presets = names.map(getPreset);
  for (const p of presets) {
    if (p.predictor !== 'aqua')
      throw new CliError(
        `preset "${p.name}" has no AQUA predictor: nothing to calibrate`,
        'use an aqua-* or kvq-* preset',
        EXIT.usage,
      );
  }
  if (names.length > 1 && !opts.out.includes('{preset}')) {
    throw new CliError(
      '--out must contain {preset} when several presets are calibrated',
      'e.g. --out adapters.{preset}.safetensors',
      EXIT.usage,
    );
  }

  const t0 = performance.now();
  const file = await readGgufFile(modelPath);
  const model = LlamaModel.fromGguf(file);
  const tokenizer = tokenizerFromGguf(file.metadata, modelPath);
  const ids = tokenizer.encode(await readFile(textPath, 'utf8'));
  if (ids.length < opts.skip + opts.tokens) {
    throw new CliError(
      `the text has ${ids.length} tokens, fewer than --skip ${opts.skip} + --tokens ${opts.tokens}`,
      'pass a smaller --tokens / --skip or a longer --text',
      EXIT.usage,
    );
  }
  // a bar on a terminal; plain progress lines when stderr is a pipe; nothing with --no-progress
  // or a bare --json
  const mode = progressMode({
    progress: opts.progress,
    jsonStdout: jsonOnStdout(opts.json),
    linesWhenPiped: true,
  });
  const bar = createProgress(mode, 'record K/V', '{value}/{total} tokens', { everyMs: 5000 });
  bar.start(opts.tokens);
  let recorded: Awaited<ReturnType<typeof recordKV>>;
  try {
    recorded = await recordKV(model, ids.slice(opts.skip, opts.skip + opts.tokens), {
      windowTokens: opts.window,
      onProgress: (done) => bar.update(done),
    });
  } finally {
    bar.stop();
  }
  const recordSeconds = (performance.now() - t0) / 1000;
  const reports: Record<string, LayerFitReport[]> = {};
  const files: Record<string, string> = {};
  for (const preset of presets) {
    const t1 = performance.now();
    const { adapters, report } = fitAquaAdapters(recorded, {
      layout: model.layout,
      preset,
      model: { name: model.config.name },
      calibration: {
        text: textPath.split('/').pop(),
        skip: opts.skip,
        window: opts.window,
        command: `kvq calibrate --tokens ${opts.tokens} --skip ${opts.skip} --preset ${preset.name}`,
      },
      onLayer: (r) => {
        if (mode !== 'off')
          process.stderr.write(`fit ${preset.name}: layer ${r.layer + 1}/${model.layout.layers}\n`);
      },
    });
    const out = opts.out.replaceAll('{preset}', preset.name);
    await saveAdapters(out, adapters);
    const fitSeconds = (performance.now() - t1) / 1000;
    reports[preset.name] = [...report];
    const lines = [
      `preset ${preset.name}: ${recorded.tokens} tokens of ${textPath.split('/').pop()}, record ${recordSeconds.toFixed(1)} s, fit ${fitSeconds.toFixed(1)} s → ${out}`,
      'layer  EV keys  EV values  rel.err K  rel.err V',
      ...report.map(
        (r) =>
          `${String(r.layer).padStart(5)}  ${r.keyExplainedVariance === null ? '      -' : r.keyExplainedVariance.toFixed(3).padStart(7)}  ${r.valueExplainedVariance === null ? '        -' : r.valueExplainedVariance.toFixed(3).padStart(9)}  ${r.keyRelError.toExponential(2).padStart(9)}  ${r.valueRelError.toExponential(2).padStart(9)}`,
      ),
      '(EV: explained variance of the predictor on the calibration tokens; rel.err: ‖x − x̃‖²/‖x‖² after prediction + quantized residual)',
    ];
    if (!jsonOnStdout(opts.json)) process.stdout.write(`${lines.join('\n')}\n`);
    files[preset.name] = out;
  }
  if (opts.json) {
    const summary = { model: modelPath, text: textPath, tokens: recorded.tokens, files, reports };
    await printResult(opts.json, summary, '');
  }
  return reports;
}
