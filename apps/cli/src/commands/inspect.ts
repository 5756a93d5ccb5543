import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import {
  CONTAINER_MAGIC,
  KvqError,
  decodeAdapters,
  decodeContainer,
  decodeSafetensors,
  deserializeCache,
} from '@kvq/core';
import type { Command } from 'commander';
import { CliError } from '../errors.js';

/** What `kvq inspect` reports about a file. */
export interface InspectReport {
  readonly file: string;
  readonly bytes: number;
  readonly kind: 'kvq-cache' | 'kvq-adapters' | 'unknown';
  /** 'ok' when every checksum matched; otherwise the reason the file was refused */
  readonly checksum: 'ok' | string;
  readonly [key: string]: unknown;
}

/** Registers `kvq inspect`. */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .argument('<file>', 'a .kvq cache snapshot or an AQUA-KV adapter file (.safetensors)')
    .description(
      "Print a cache snapshot's or adapter file's header, layout, preset, bits/value and checksum status (exit 3 when the file is corrupt)",
    )
    .option('--json', 'print JSON instead of text')
    .action(async (file: string, opts: { json?: boolean }) => {
      await runInspect(file, opts);
    });
}

const magic = (b: Uint8Array) => String.fromCharCode(...b.subarray(0, 4));

/** Runs `kvq inspect`: prints the report; a corrupt file prints its report too, then throws (exit 3). */
export async function runInspect(file: string, opts: { json?: boolean } = {}): Promise<InspectReport> {
  if (!existsSync(file))
    throw new CliError(`file not found: ${file}`, 'pass a .kvq snapshot or an adapter file', 3);
  const bytes = new Uint8Array(await readFile(file));
  let report: InspectReport;
  let failure: KvqError | undefined;
  let unknown: CliError | undefined;
  const base = { file, bytes: bytes.length };
  if (magic(bytes) === CONTAINER_MAGIC['kvq-cache']) {
    try {
      const { version, header } = decodeContainer(bytes, { kind: 'kvq-cache', versions: [0, 1, 2, 3] });
      const h = header as Record<string, unknown>;
      let stats: Record<string, unknown> = {};
      try {
        const cache = deserializeCache(bytes);
        const s = cache.stats();
        stats = {
          tokens: s.tokens,
          bitsPerValue: s.bitsPerValue,
          storedBitsPerValue: s.storedBitsPerValue,
          bitsK: s.bitsK,
          bitsV: s.bitsV,
          fp16Bytes: s.fp16Bytes,
        };
        cache.dispose();
      } catch (err) {
        if (!(err instanceof KvqError)) throw err;
        // a snapshot of an AQUA preset needs its adapters to rebuild: the header is still readable
        stats = { note: `not rebuilt: ${err.message}` };
      }
      const preset = h.preset as { name?: string } | undefined;
      report = {
        ...base,
        kind: 'kvq-cache',
        checksum: 'ok',
        version,
        layout: h.layout,
        preset: preset?.name,
        policy: h.policy,
        rope: h.rope,
        adapters: h.adapters,
        ...stats,
      };
    } catch (err) {
      if (!(err instanceof KvqError)) throw err;
      failure = err;
      report = { ...base, kind: 'kvq-cache', checksum: err.message };
    }
  } else if (bytes.length >= 8 && bytes[8] === 0x7b /* '{' */) {
    try {
      const st = decodeSafetensors(bytes);
      const a = decodeAdapters(bytes);
      report = {
        ...base,
        kind: 'kvq-adapters',
        checksum: 'ok',
        format: st.metadata['kvq.format'],
        version: st.metadata['kvq.version'],
        model: a.model,
        layout: a.layout,
        layersWithPredictors: a.layers.filter((l) => l !== null && l !== undefined).length,
        calibration: a.calibration,
        tensors: Object.keys(st.tensors).length,
      };
    } catch (err) {
      if (!(err instanceof KvqError)) throw err;
      failure = err;
      report = { ...base, kind: 'kvq-adapters', checksum: err.message };
    }
  } else {
    unknown = new CliError(
      `${file}: not a kvq cache snapshot nor a safetensors adapter file (starts with "${magic(bytes).replace(/[^\x20-\x7e]/g, '.')}")`,
      'kvq inspect reads .kvq snapshots (kvq compress) and adapter files (kvq calibrate)',
      3,
    );
    report = { ...base, kind: 'unknown', checksum: 'unrecognized format' };
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const lines = Object.entries(report)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k.padEnd(22)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  if (failure) throw failure;
  if (unknown) throw unknown;
  return report;
}
