import type { EvalResult } from '@kvq/decoder';

/** One row of the `kvq eval` report (the `--json` schema). */
export interface EvalReportRow {
  readonly preset: string;
  readonly bitsPerValue: number;
  readonly storedBitsPerValue: number;
  readonly bitsK: number;
  readonly bitsV: number;
  readonly perplexity: number;
  /** perplexity / fp16 perplexity − 1 */
  readonly relPerplexity: number;
  readonly kl: number;
  readonly top1: number;
  readonly kvBytes: number;
  readonly fp16KvBytes: number;
  readonly seconds: number;
}

/** The protocol an evaluation followed (DESIGN.md). */
export interface EvalProtocol {
  readonly name: 'aqua-kv' | 'strict';
  readonly chunk: number;
  readonly sinkTokens: number;
  readonly bufferTokens: number;
  readonly bos: false;
  readonly keys: 'pre-RoPE';
  readonly windows: number;
}

/** What `kvq eval --json` writes. */
export interface EvalReport {
  readonly model: string;
  readonly text: string;
  readonly ctx: number;
  /** predicted tokens per preset */
  readonly tokens: number;
  readonly backend: string;
  readonly protocol: EvalProtocol;
  readonly command: string;
  readonly results: readonly EvalReportRow[];
  /** adapter file used per AQUA preset */
  readonly adapters?: Readonly<Record<string, string>>;
}

/** Turns evaluation results into report rows; `results[0]` is the fp16 reference. */
export function toRows(results: readonly EvalResult[]): EvalReportRow[] {
  const ref = results[0]!;
  return results.map((r) => ({
    preset: r.name,
    bitsPerValue: r.bitsPerValue,
    storedBitsPerValue: r.storedBitsPerValue,
    bitsK: r.bitsK,
    bitsV: r.bitsV,
    perplexity: r.perplexity,
    relPerplexity: r.perplexity / ref.perplexity - 1,
    kl: r.kl,
    top1: r.top1,
    kvBytes: r.kvBytes,
    fp16KvBytes: r.fp16KvBytes,
    seconds: r.seconds,
  }));
}

function pad(s: string, n: number, left = false): string {
  return left ? s.padEnd(n) : s.padStart(n);
}

/** The human-readable table `kvq eval` prints. */
export function formatTable(report: EvalReport): string {
  const cols = [
    'preset',
    'bits K',
    'bits V',
    'bits/val',
    'stored',
    'ppl',
    'Δppl',
    'KL',
    'top-1',
    'KV KiB',
    'vs fp16',
    'tokens',
    'seconds',
  ];
  const rows = report.results.map((r) => [
    r.preset,
    r.bitsK.toFixed(3),
    r.bitsV.toFixed(3),
    r.bitsPerValue.toFixed(3),
    r.storedBitsPerValue.toFixed(3),
    r.perplexity.toFixed(3),
    `${r.relPerplexity >= 0 ? '+' : ''}${(r.relPerplexity * 100).toFixed(2)}%`,
    r.kl.toFixed(5),
    `${(r.top1 * 100).toFixed(2)}%`,
    (r.kvBytes / 1024).toFixed(1),
    `${((r.kvBytes / r.fp16KvBytes) * 100).toFixed(1)}%`,
    String(report.tokens),
    r.seconds.toFixed(1),
  ]);
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i]!, i === 0)).join('  ');
  const p = report.protocol;
  return [
    `model ${report.model}`,
    `text  ${report.text}`,
    `ctx ${report.ctx}, ${p.windows} window(s), ${report.tokens} predicted tokens per preset, backend ${report.backend}`,
    `protocol ${p.name}: ${p.chunk}-token chunks, ${p.sinkTokens} fp16 sinks, fp16 buffer ${p.bufferTokens}, keys compressed pre-RoPE, no BOS`,
    '',
    line(cols),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    ...Object.entries(report.adapters ?? {}).map(([preset, file]) => `adapters ${preset}: ${file}`),
    `command: ${report.command}`,
  ].join('\n');
}
