import { readFile } from 'node:fs/promises';
import {
  type KVLayout,
  KvqError,
  layerQuantizers,
  listPresets,
  presetBitsPerValue,
  quantizerLabel,
} from '@kvq/core';
import { readGgufHeader, readLlamaConfig } from '@kvq/decoder';
import { defaultModelPath } from '@kvq/decoder/node';
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { isFile } from '../inputs.js';

/** One row of `kvq presets`. */
export interface PresetRow {
  readonly name: string;
  readonly description: string;
  readonly predictor: string;
  readonly keys: string;
  readonly values: string;
  /** null when the preset cannot store this layout (see `unavailable`) */
  readonly bitsPerValue: number | null;
  readonly bitsK: number | null;
  readonly bitsV: number | null;
  readonly unavailable?: string;
}

/** Registers `kvq presets`. */
export function registerPresets(program: Command): void {
  program
    .command('presets')
    .description("List the built-in presets with their exact bits per value for a model's KV layout")
    .option('--model <gguf>', 'GGUF whose layout is used (default: the bundled kvq-ref-35M)')
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: { model?: string; json?: boolean }) => {
      await runPresets(opts);
    });
}

/** Runs `kvq presets`. */
export async function runPresets(opts: { model?: string; json?: boolean }): Promise<PresetRow[]> {
  const path = opts.model ?? defaultModelPath();
  if (!isFile(path))
    throw new CliError(
      `model file not found: ${path}`,
      'pass --model <gguf> or set KVQ_MODEL / KVQ_MODELS_DIR',
      3,
    );
  // the layout from the GGUF's metadata alone (no weights are converted)
  const c = readLlamaConfig(readGgufHeader(new Uint8Array(await readFile(path)), path).metadata, path);
  const layout: KVLayout = {
    layers: c.layers,
    queryHeads: c.queryHeads,
    kvHeads: c.kvHeads,
    headDim: c.headDim,
  };
  const rows: PresetRow[] = listPresets().map((p) => {
    const lq = layerQuantizers(p, Math.min(1, layout.layers - 1));
    const base = {
      name: p.name,
      description: p.description,
      predictor: p.predictor,
      keys: quantizerLabel(lq.keys),
      values: quantizerLabel(lq.values),
    };
    try {
      const b = presetBitsPerValue(p, layout);
      return { ...base, bitsPerValue: b.bitsPerValue, bitsK: b.bitsK, bitsV: b.bitsV };
    } catch (err) {
      if (!(err instanceof KvqError)) throw err;
      return { ...base, bitsPerValue: null, bitsK: null, bitsV: null, unavailable: err.message };
    }
  });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ model: path, layout, presets: rows }, null, 2)}\n`);
    return rows;
  }
  const head = [
    'preset',
    'bits/value',
    'bits K',
    'bits V',
    'predictor',
    'keys (layer 1)',
    'values (layer 1)',
  ];
  const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
  const cells = rows.map((r) => [
    r.name,
    f(r.bitsPerValue),
    f(r.bitsK),
    f(r.bitsV),
    r.predictor,
    r.keys,
    r.values,
    r.unavailable ? `(not for this layout: ${r.unavailable})` : '',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c.map((x, i) => (i >= 1 && i <= 3 ? x.padStart(w[i]!) : x.padEnd(w[i]!))).join('  ');
  process.stdout.write(
    `presets for ${path.split('/').pop()} (layers ${layout.layers}, KV heads ${layout.kvHeads}, head dim ${layout.headDim}); bits/value counts codes, scales, zero points and outliers (DESIGN.md)\n${[line(head), line(w.map((n) => '-'.repeat(n))), ...cells.map(line)].join('\n')}\n`,
  );
  return rows;
}
