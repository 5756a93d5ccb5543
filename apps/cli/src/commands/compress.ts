import { readFile } from 'node:fs/promises';
import {
  type CompressedKVCache,
  type KVLayout,
  SNAPSHOT_VERSION,
  createCache,
  deserializeCache,
  getPreset,
  strictPolicy,
} from '@kvq/core';
import { writeFileAtomic } from '@kvq/core/node';
import { LlamaModel, readGgufFile, tokenizerFromGguf } from '@kvq/decoder';
import type { Command } from 'commander';
import { resolveAdapters } from '../adapters.js';
import { integerArg } from '../args.js';
import { CliError, EXIT } from '../errors.js';
import { isFile, resolveModelAndText } from '../inputs.js';
import { encodeKvSafetensors, readKvSafetensors } from '../kv-file.js';
import { toJson } from '../output.js';
import { createProgress, progressMode } from '../progress.js';
import { trySnapshotHeader } from '../snapshot-header.js';

/** Options of `kvq compress`. */
export interface CompressCommandOptions {
  model?: string;
  text?: string;
  kv?: string;
  queryHeads?: number;
  tokens?: number;
  preset: string;
  adapters?: string;
  strict?: boolean;
  out: string;
  json?: boolean;
  progress: boolean;
}

/** What `kvq compress --json` prints. */
export interface CompressSummary {
  readonly out: string;
  /** the GGUF the K/V came from, or the raw K/V file (`--kv`) */
  readonly source: string;
  readonly preset: string;
  readonly layout: KVLayout;
  readonly tokens: number;
  readonly bytes: number;
  readonly fp16Bytes: number;
  readonly bitsPerValue: number;
  readonly storedBitsPerValue: number;
  readonly snapshotVersion: number;
  readonly adapters?: string;
  readonly seconds: number;
}

/** Tokens appended to the cache at a time (the eval protocol's chunk). */
const CHUNK = 32;

/** Registers `kvq compress` and `kvq decompress`. */
export function registerCompress(program: Command): void {
  program
    .command('compress')
    .description(
      'Compress a KV cache into a .kvq snapshot: the reference decoder run over a text (default), or raw K/V from a safetensors file (--kv)',
    )
    .requiredOption('--out <file.kvq>', 'snapshot to write (atomically)')
    .option('--model <gguf>', 'GGUF model (default: the bundled kvq-ref-35M)')
    .option('--text <file>', 'UTF-8 text (default: ../shared/data/wiki.test.raw)')
    .option(
      '--kv <file.safetensors>',
      'raw pre-RoPE K/V instead of a model run: layers.{l}.keys / .values [tokens, kvHeads, headDim] F32/F16/BF16 (as `kvq decompress` writes)',
    )
    .option(
      '--query-heads <n>',
      "--kv: the model's query heads, when the file has no kvq.layout metadata",
      integerArg('--query-heads'),
    )
    .option(
      '--tokens <n>',
      'tokens to compress (model run: default 512; --kv: default all)',
      integerArg('--tokens'),
    )
    .option('--preset <name>', 'kvq preset (see `kvq presets`)', 'k4v2')
    .option(
      '--adapters <file>',
      'AQUA-KV adapters for aqua-*/kvq-* presets (default: the bundled ones for the model)',
    )
    .option('--strict', 'no fp16 buffer: every token but the 4 sinks compressed')
    .option('--json', 'print a JSON summary instead of text')
    .option('--no-progress', 'no progress bar')
    .action(async (opts: CompressCommandOptions) => {
      await runCompress(opts);
    });
  program
    .command('decompress')
    .argument('<file.kvq>', 'a snapshot from `kvq compress`')
    .description('Reconstruct a .kvq snapshot into fp32 pre-RoPE K/V tensors in a safetensors file')
    .requiredOption(
      '--out <file.safetensors>',
      'file to write (atomically): layers.{l}.keys / .values [tokens, kvHeads, headDim] F32',
    )
    .option(
      '--adapters <file>',
      'AQUA-KV adapters the snapshot was made with (default: the bundled ones for its model)',
    )
    .option('--json', 'print a JSON summary instead of text')
    .option('--no-progress', 'no progress bar')
    .action(async (file: string, opts: DecompressCommandOptions) => {
      await runDecompress(file, opts);
    });
}

/** The K/V source of a compress run: a model over a text, or a raw K/V file. */
interface KvSource {
  readonly name: string;
  readonly layout: KVLayout;
  readonly model?: string;
  readonly tokens: number;
  /** appends tokens [start, start + n) of every layer to the cache */
  fill(cache: CompressedKVCache, start: number, n: number): Promise<void>;
}

async function modelSource(opts: CompressCommandOptions): Promise<KvSource> {
  const { modelPath, textPath } = resolveModelAndText(opts);
  const file = await readGgufFile(modelPath);
  const model = LlamaModel.fromGguf(file);
  const tokenizer = tokenizerFromGguf(file.metadata, modelPath);
  const ids = tokenizer.encode(await readFile(textPath, 'utf8')).slice(0, opts.tokens ?? 512);
  if (ids.length === 0)
    throw new CliError(`the text ${textPath} has no tokens`, 'pass another --text', EXIT.input);
  return {
    name: modelPath,
    layout: model.layout,
    model: model.config.name,
    tokens: ids.length,
    fill: async (cache, start, n) => {
      await model.forward(ids.slice(start, start + n), cache, { logits: 'none' });
    },
  };
}

async function kvSource(opts: CompressCommandOptions, path: string): Promise<KvSource> {
  if (opts.model || opts.text)
    throw new CliError(
      '--kv reads K/V from a file: --model / --text do not apply',
      'leave out --model and --text, or --kv',
      EXIT.usage,
    );
  if (!isFile(path))
    throw new CliError(`K/V file not found: ${path}`, 'pass a safetensors file of K/V', EXIT.input);
  const kv = readKvSafetensors(new Uint8Array(await readFile(path)), path, opts.queryHeads);
  if (kv.tokens === 0) throw new CliError(`${path} holds 0 tokens`, 'nothing to compress', EXIT.input);
  const C = kv.layout.kvHeads * kv.layout.headDim;
  return {
    name: path,
    layout: kv.layout,
    model: kv.metadata['kvq.model'],
    tokens: Math.min(kv.tokens, opts.tokens ?? kv.tokens),
    fill: async (cache, start, n) => {
      for (let l = 0; l < kv.layout.layers; l++)
        cache.append(
          l,
          kv.keys[l]!.subarray(start * C, (start + n) * C),
          kv.values[l]!.subarray(start * C, (start + n) * C),
          n,
        );
    },
  };
}

/** Runs `kvq compress`: fills a cache of the preset from the source and writes its snapshot. */
export async function runCompress(opts: CompressCommandOptions): Promise<CompressSummary> {
  getPreset(opts.preset); // unknown preset → typed error (exit 2) before anything loads
  const source = opts.kv ? await kvSource(opts, opts.kv) : await modelSource(opts);
  const resolved = await resolveAdapters({
    preset: opts.preset,
    model: source.model,
    layout: source.layout,
    explicit: opts.adapters,
  });
  const cache = createCache({
    layout: source.layout,
    preset: opts.preset,
    ...(resolved ? { adapters: resolved.adapters } : {}),
    ...(opts.strict ? { policy: strictPolicy } : {}),
  });
  try {
    const bar = createProgress(
      progressMode({ progress: opts.progress, jsonStdout: opts.json }),
      'compress',
      '{value}/{total} tokens',
    );
    bar.start(source.tokens);
    const t0 = performance.now();
    try {
      for (let s = 0; s < source.tokens; s += CHUNK) {
        const n = Math.min(CHUNK, source.tokens - s);
        await source.fill(cache, s, n);
        bar.update(s + n);
      }
    } finally {
      bar.stop();
    }
    const bytes = cache.serialize();
    await writeFileAtomic(opts.out, bytes);
    const s = cache.stats();
    const summary: CompressSummary = {
      out: opts.out,
      source: source.name,
      preset: opts.preset,
      layout: source.layout,
      tokens: s.tokens,
      bytes: bytes.length,
      fp16Bytes: s.fp16Bytes,
      bitsPerValue: s.bitsPerValue,
      storedBitsPerValue: s.storedBitsPerValue,
      snapshotVersion: SNAPSHOT_VERSION,
      ...(resolved ? { adapters: resolved.path } : {}),
      seconds: (performance.now() - t0) / 1000,
    };
    process.stdout.write(
      opts.json
        ? toJson(summary)
        : `wrote ${opts.out}: ${s.tokens} tokens, ${bytes.length} bytes (fp16 cache ${s.fp16Bytes}), ${s.bitsPerValue.toFixed(3)} bits/value (${s.storedBitsPerValue.toFixed(3)} stored)\n`,
    );
    return summary;
  } finally {
    cache.dispose();
  }
}

/** Options of `kvq decompress`. */
export interface DecompressCommandOptions {
  out: string;
  adapters?: string;
  json?: boolean;
  /** false with --no-progress */
  progress?: boolean;
}

/**
 * Runs `kvq decompress`: reconstructs every layer of the snapshot (AQUA snapshots with `--adapters`
 * or the bundled adapters of the model they record) and writes the K/V as safetensors.
 */
export async function runDecompress(
  file: string,
  opts: DecompressCommandOptions,
): Promise<Record<string, unknown>> {
  if (!isFile(file))
    throw new CliError(`file not found: ${file}`, 'pass a .kvq snapshot from `kvq compress`', EXIT.input);
  const bytes = new Uint8Array(await readFile(file));
  // an AQUA snapshot needs adapters: --adapters, else the bundled ones of the model it records
  const header = trySnapshotHeader(bytes);
  const presetName = header?.preset?.name;
  const resolved =
    presetName && getPresetOrUndefined(presetName)?.predictor === 'aqua'
      ? await resolveAdapters({
          preset: presetName,
          model: header?.adapters?.model?.name,
          layout: header?.layout,
          explicit: opts.adapters,
        })
      : undefined;
  const cache = deserializeCache(bytes, resolved ? { adapters: resolved.adapters } : {});
  try {
    const { layout } = cache;
    const T = cache.length;
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    const bar = createProgress(
      progressMode({ progress: opts.progress, jsonStdout: opts.json }),
      'decompress',
      '{value}/{total} layers',
    );
    bar.start(layout.layers);
    try {
      for (let l = 0; l < layout.layers; l++) {
        const r = T > 0 ? cache.reconstruct(l) : { keys: new Float32Array(0), values: new Float32Array(0) };
        keys.push(r.keys);
        values.push(r.values);
        bar.update(l + 1);
      }
    } finally {
      bar.stop();
    }
    const model = cache.adapters?.model.name;
    const out = encodeKvSafetensors(layout, T, keys, values, {
      'kvq.source': file.split('/').pop() ?? file,
      'kvq.preset': cache.preset.name,
      ...(model ? { 'kvq.model': model } : {}),
    });
    await writeFileAtomic(opts.out, out);
    const summary = {
      out: opts.out,
      tokens: T,
      layers: layout.layers,
      layout,
      bytes: out.length,
      preset: cache.preset.name,
      ...(resolved ? { adapters: resolved.path } : {}),
    };
    process.stdout.write(
      opts.json
        ? toJson(summary)
        : `wrote ${opts.out}: ${T} tokens × ${layout.layers} layers of pre-RoPE keys and values (fp32), ${out.length} bytes\n`,
    );
    return summary;
  } finally {
    cache.dispose();
  }
}

function getPresetOrUndefined(name: string) {
  try {
    return getPreset(name);
  } catch {
    return undefined;
  }
}
