import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { findBundledAdapters } from '@kvq/calibrate/node';
import {
  type AquaAdapters,
  SNAPSHOT_VERSION,
  createCache,
  deserializeCache,
  encodeSafetensors,
  getPreset,
  strictPolicy,
} from '@kvq/core';
import { loadAdapters, writeFileAtomic } from '@kvq/core/node';
import { LlamaModel, readGgufFile, tokenizerFromGguf } from '@kvq/decoder';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { integerArg } from '../args.js';
import { CliError } from '../errors.js';
import { resolveModelAndText } from '../inputs.js';

/** Options of `kvq compress`. */
export interface CompressCommandOptions {
  model?: string;
  text?: string;
  tokens: number;
  preset: string;
  adapters?: string;
  strict?: boolean;
  out: string;
  json?: boolean;
  progress: boolean;
}

/** Registers `kvq compress` and `kvq decompress`. */
export function registerCompress(program: Command): void {
  program
    .command('compress')
    .description('Run the reference decoder over a text and write its compressed KV cache as a .kvq snapshot')
    .requiredOption('--out <file.kvq>', 'snapshot to write (atomically)')
    .option('--model <gguf>', 'GGUF model (default: the bundled kvq-ref-35M)')
    .option('--text <file>', 'UTF-8 text (default: ../shared/data/wiki.test.raw)')
    .option('--tokens <n>', 'tokens of the text to prefill', integerArg('--tokens'), 512)
    .option('--preset <name>', 'kvq preset', 'k4v2')
    .option('--adapters <file>', 'AQUA-KV adapters (default: the bundled ones for the model)')
    .option('--strict', 'no fp16 buffer: every token but the 4 sinks compressed')
    .option('--json', 'print a JSON summary')
    .option('--no-progress', 'no progress bar')
    .action(async (opts: CompressCommandOptions) => {
      await runCompress(opts);
    });
  program
    .command('decompress')
    .argument('<file.kvq>', 'a snapshot from `kvq compress`')
    .description('Reconstruct a .kvq snapshot into fp32 K/V tensors in a safetensors file')
    .requiredOption(
      '--out <file.safetensors>',
      'file to write (atomically): layers.{l}.keys / .values [tokens, kvHeads, headDim] F32',
    )
    .option('--adapters <file>', 'AQUA-KV adapters the snapshot was made with (AQUA presets)')
    .option('--json', 'print a JSON summary')
    .action(async (file: string, opts: { out: string; adapters?: string; json?: boolean }) => {
      await runDecompress(file, opts);
    });
}

async function adaptersFor(
  preset: string,
  model: LlamaModel,
  explicit?: string,
): Promise<AquaAdapters | undefined> {
  if (getPreset(preset).predictor !== 'aqua') return undefined;
  const path = explicit ?? findBundledAdapters(model.config.name, preset);
  if (!path)
    throw new CliError(
      `preset ${preset} needs AQUA-KV adapters and none ship for model "${model.config.name}"`,
      'fit some with `kvq calibrate` and pass --adapters <file>',
    );
  if (!existsSync(path)) throw new CliError(`adapter file not found: ${path}`, undefined, 3);
  return loadAdapters(path, { layout: model.layout, model: { name: model.config.name } });
}

/** Runs `kvq compress`. */
export async function runCompress(opts: CompressCommandOptions): Promise<Record<string, unknown>> {
  const { modelPath, textPath } = resolveModelAndText(opts);
  getPreset(opts.preset); // unknown preset → typed error before the model loads
  const file = await readGgufFile(modelPath);
  const model = LlamaModel.fromGguf(file);
  const tokenizer = tokenizerFromGguf(file.metadata, modelPath);
  const ids = tokenizer.encode(await readFile(textPath, 'utf8')).slice(0, opts.tokens);
  if (ids.length === 0) throw new CliError(`the text ${textPath} has no tokens`, undefined, 3);
  const adapters = await adaptersFor(opts.preset, model, opts.adapters);
  const cache = createCache({
    layout: model.layout,
    preset: opts.preset,
    ...(adapters ? { adapters } : {}),
    ...(opts.strict ? { policy: strictPolicy } : {}),
  });
  const chunk = 32;
  const bar =
    opts.progress && process.stderr.isTTY && !opts.json
      ? new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: 'compress [{bar}] {value}/{total} tokens | ETA {eta_formatted}',
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  bar?.start(ids.length, 0);
  const t0 = performance.now();
  try {
    for (let s = 0; s < ids.length; s += chunk) {
      await model.forward(ids.slice(s, s + chunk), cache, { logits: 'none' });
      bar?.update(Math.min(ids.length, s + chunk));
    }
  } finally {
    bar?.stop();
  }
  const bytes = cache.serialize();
  await writeFileAtomic(opts.out, bytes);
  const s = cache.stats();
  const summary = {
    out: opts.out,
    model: modelPath,
    preset: opts.preset,
    tokens: s.tokens,
    bytes: bytes.length,
    fp16Bytes: s.fp16Bytes,
    bitsPerValue: s.bitsPerValue,
    storedBitsPerValue: s.storedBitsPerValue,
    snapshotVersion: SNAPSHOT_VERSION,
    seconds: (performance.now() - t0) / 1000,
  };
  cache.dispose();
  process.stdout.write(
    opts.json
      ? `${JSON.stringify(summary, null, 2)}\n`
      : `wrote ${opts.out}: ${s.tokens} tokens, ${bytes.length} bytes (fp16 cache ${s.fp16Bytes}), ${s.bitsPerValue.toFixed(3)} bits/value (${s.storedBitsPerValue.toFixed(3)} stored)\n`,
  );
  return summary;
}

/** Runs `kvq decompress`. */
export async function runDecompress(
  file: string,
  opts: { out: string; adapters?: string; json?: boolean },
): Promise<Record<string, unknown>> {
  if (!existsSync(file)) throw new CliError(`file not found: ${file}`, undefined, 3);
  const adapters = opts.adapters ? await loadAdapters(opts.adapters) : undefined;
  const cache = deserializeCache(new Uint8Array(await readFile(file)), adapters ? { adapters } : {});
  const { layers, kvHeads, headDim } = cache.layout;
  const T = cache.length;
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (let l = 0; l < layers; l++) {
    const { keys, values } =
      T > 0 ? cache.reconstruct(l) : { keys: new Float32Array(0), values: new Float32Array(0) };
    tensors[`layers.${l}.keys`] = { dtype: 'F32', shape: [T, kvHeads, headDim], data: keys };
    tensors[`layers.${l}.values`] = { dtype: 'F32', shape: [T, kvHeads, headDim], data: values };
  }
  const out = encodeSafetensors(tensors, {
    'kvq.source': file.split('/').pop() ?? file,
    'kvq.keys': 'pre-RoPE',
    'kvq.layout': JSON.stringify(cache.layout),
    'kvq.preset': cache.preset.name,
  });
  await writeFileAtomic(opts.out, out);
  const summary = { out: opts.out, tokens: T, layers, bytes: out.length, preset: cache.preset.name };
  cache.dispose();
  process.stdout.write(
    opts.json
      ? `${JSON.stringify(summary, null, 2)}\n`
      : `wrote ${opts.out}: ${T} tokens × ${layers} layers of pre-RoPE keys and values (fp32), ${out.length} bytes\n`,
  );
  return summary;
}
