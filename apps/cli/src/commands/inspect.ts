import { readFile } from 'node:fs/promises';
import {
  CONTAINER_MAGIC,
  type KVLayout,
  KvqError,
  type PresetConfig,
  SNAPSHOT_VERSION,
  UnsupportedVersionError,
  decodeAdapters,
  decodeSafetensors,
  deserializeCache,
  getPreset,
  layerQuantizers,
  presetBitsPerValue,
  quantizerLabel,
} from '@kvq/core';
import type { Command } from 'commander';
import { resolveAdapters } from '../adapters.js';
import { CliError, EXIT } from '../errors.js';
import { isFile } from '../inputs.js';
import { toJson } from '../output.js';
import { type SnapshotHeader, readSnapshotHeader } from '../snapshot-header.js';

/**
 * Whether a file's checksums held: `ok` (every CRC-32 matched), `mismatch` (a stored CRC-32
 * disagrees with the bytes), `unverified` (the file is cut short or malformed before its checksums
 * could be compared).
 */
export type ChecksumStatus = 'ok' | 'mismatch' | 'unverified';

/** What `kvq inspect` reports about a file (`--json` prints it as is). */
export interface InspectReport {
  readonly file: string;
  readonly bytes: number;
  readonly kind: 'kvq-cache' | 'kvq-adapters' | 'unknown';
  readonly checksum: ChecksumStatus;
  /** why the file was refused (corrupt, truncated, unsupported version), when it was */
  readonly error?: string;
  readonly [key: string]: unknown;
}

/** Registers `kvq inspect`. */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .argument('<file>', 'a .kvq cache snapshot or an AQUA-KV adapter file (.safetensors)')
    .description(
      "Print a cache snapshot's or adapter file's header, layout, preset, bits/value and checksum status (exit 3 when the file is corrupt, truncated or of an unsupported version)",
    )
    .option(
      '--adapters <file>',
      "AQUA snapshots: adapters to rebuild it with for its stats (default: the bundled ones for the snapshot's model)",
    )
    .option('--json', 'print JSON instead of text')
    .action(async (file: string, opts: { json?: boolean; adapters?: string }) => {
      await runInspect(file, opts);
    });
}

const magic = (b: Uint8Array) => String.fromCharCode(...b.subarray(0, 4));

function checksumStatus(err: KvqError): ChecksumStatus {
  return /checksum mismatch/.test(err.message) ? 'mismatch' : 'unverified';
}

/** Exact bits/value of a preset for a layout (null with the reason when it cannot store it). */
function presetBits(preset: PresetConfig, layout: KVLayout): Record<string, unknown> {
  try {
    const b = presetBitsPerValue(preset, layout);
    return { presetBitsPerValue: b.bitsPerValue, presetBitsK: b.bitsK, presetBitsV: b.bitsV };
  } catch (err) {
    if (!(err instanceof KvqError)) throw err;
    return { presetBitsPerValue: null, presetBitsNote: err.message };
  }
}

async function inspectSnapshot(
  bytes: Uint8Array,
  base: { file: string; bytes: number },
  adaptersFile?: string,
): Promise<{ report: InspectReport; failure?: KvqError }> {
  let h: SnapshotHeader;
  try {
    h = readSnapshotHeader(bytes);
  } catch (err) {
    if (!(err instanceof KvqError)) throw err;
    return {
      report: { ...base, kind: 'kvq-cache', checksum: checksumStatus(err), error: err.message },
      failure: err,
    };
  }
  const preset = h.preset;
  const layer1 = preset?.quantizers
    ? layerQuantizers(preset, Math.min(1, (h.layout?.layers ?? 1) - 1))
    : null;
  const headerFacts = {
    ...base,
    kind: 'kvq-cache' as const,
    checksum: 'ok' as const,
    version: h.version,
    layout: h.layout,
    preset: preset?.name,
    predictor: preset?.predictor,
    keys: layer1 ? quantizerLabel(layer1.keys) : undefined,
    values: layer1 ? quantizerLabel(layer1.values) : undefined,
    policy: h.policy,
    rope: h.rope ?? null,
    adapters: h.adapters ?? null,
    tokens: h.layers?.at(-1)?.length,
    ...(preset && h.layout ? presetBits(preset, h.layout) : {}),
  };
  if (h.version !== SNAPSHOT_VERSION) {
    const err = new UnsupportedVersionError('kvq-cache file', h.version, [SNAPSHOT_VERSION]);
    return { report: { ...headerFacts, error: err.message }, failure: err };
  }
  // the cache's own stats: rebuild it (an AQUA snapshot needs its adapters)
  try {
    let adapters: Awaited<ReturnType<typeof resolveAdapters>>;
    if (preset?.predictor === 'aqua' && preset.name) {
      getPreset(preset.name);
      adapters = await resolveAdapters({
        preset: preset.name,
        model: h.adapters?.model?.name,
        layout: h.layout,
        explicit: adaptersFile,
      });
    }
    const cache = deserializeCache(bytes, adapters ? { adapters: adapters.adapters } : {});
    const s = cache.stats();
    cache.dispose();
    return {
      report: {
        ...headerFacts,
        ...(adapters ? { adaptersFile: adapters.path } : {}),
        tokens: s.tokens,
        bitsPerValue: s.bitsPerValue,
        storedBitsPerValue: s.storedBitsPerValue,
        bitsK: s.bitsK,
        bitsV: s.bitsV,
        fp16Bytes: s.fp16Bytes,
        compressionVsFp16: s.fp16Bytes / bytes.length,
      },
    };
  } catch (err) {
    if (!(err instanceof KvqError) && !(err instanceof CliError)) throw err;
    if (err instanceof KvqError && err.code === 'CORRUPT_FILE') {
      // checksums held but the contents do not make a cache (a foreign or hand-edited header)
      return { report: { ...headerFacts, error: err.message }, failure: err };
    }
    return { report: { ...headerFacts, note: `cache not rebuilt: ${err.message}` } };
  }
}

function inspectAdapters(
  bytes: Uint8Array,
  base: { file: string; bytes: number },
): { report: InspectReport; failure?: KvqError } {
  try {
    const st = decodeSafetensors(bytes);
    const a = decodeAdapters(bytes);
    const presetName = a.calibration?.preset;
    let preset: PresetConfig | undefined;
    try {
      preset = typeof presetName === 'string' ? getPreset(presetName) : undefined;
    } catch {
      preset = undefined;
    }
    return {
      report: {
        ...base,
        kind: 'kvq-adapters',
        checksum: 'ok',
        format: st.metadata['kvq.format'],
        version: Number(st.metadata['kvq.version']),
        model: a.model,
        layout: a.layout,
        preset: presetName,
        ...(preset ? presetBits(preset, a.layout) : {}),
        layersWithPredictors: a.layers.filter((l) => l !== null && l !== undefined).length,
        tensors: Object.keys(st.tensors).length,
        calibration: a.calibration,
      },
    };
  } catch (err) {
    if (!(err instanceof KvqError)) throw err;
    return {
      report: { ...base, kind: 'kvq-adapters', checksum: checksumStatus(err), error: err.message },
      failure: err,
    };
  }
}

function formatReport(report: InspectReport): string {
  const num = (k: string, v: number) =>
    Number.isInteger(v) ? String(v) : /bits|compression/i.test(k) ? v.toFixed(3) : String(v);
  return `${Object.entries(report)
    .filter(([, v]) => v !== undefined)
    .map(
      ([k, v]) =>
        `${k.padEnd(20)} ${typeof v === 'number' ? num(k, v) : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`,
    )
    .join('\n')}\n`;
}

/**
 * Runs `kvq inspect`: prints the report. A corrupt, truncated or unsupported file prints its report
 * too (checksum status and error), then throws (exit 3).
 */
export async function runInspect(
  file: string,
  opts: { json?: boolean; adapters?: string } = {},
): Promise<InspectReport> {
  if (!isFile(file))
    throw new CliError(`file not found: ${file}`, 'pass a .kvq snapshot or an adapter file', EXIT.input);
  const bytes = new Uint8Array(await readFile(file));
  const base = { file, bytes: bytes.length };
  let result: { report: InspectReport; failure?: KvqError | CliError };
  if (magic(bytes) === CONTAINER_MAGIC['kvq-cache'])
    result = await inspectSnapshot(bytes, base, opts.adapters);
  else if (bytes.length > 8 && bytes[8] === 0x7b /* '{' opens a safetensors header */)
    result = inspectAdapters(bytes, base);
  else {
    result = {
      report: { ...base, kind: 'unknown', checksum: 'unverified', error: 'unrecognized format' },
      failure: new CliError(
        `${file}: not a kvq cache snapshot nor a safetensors adapter file (starts with "${magic(bytes).replace(/[^\x20-\x7e]/g, '.')}")`,
        'kvq inspect reads .kvq snapshots (kvq compress) and adapter files (kvq calibrate)',
        EXIT.input,
      ),
    };
  }
  process.stdout.write(opts.json ? toJson(result.report) : formatReport(result.report));
  const f = result.failure;
  if (f instanceof KvqError)
    throw new CliError(
      `${file}: ${f.message}`,
      f.code === 'UNSUPPORTED_VERSION'
        ? 'the file was written by another kvq version'
        : 'the file is damaged or cut short: write it again (kvq compress / kvq calibrate)',
      EXIT.input,
    );
  if (f) throw f;
  return result.report;
}
