import { writeFile } from 'node:fs/promises';
import { getPreset, listPresets } from '@kvq/core';
import { type Command, Option } from 'commander';
import { integerArg } from '../args.js';
import { benchCpuThroughput } from '../bench/cpu-throughput.js';
import { CliError } from '../errors.js';

/** Options of `kvq bench` after parsing. */
export interface BenchCommandOptions {
  backend: 'cpu' | 'cuda' | 'webgpu';
  presets?: string;
  tokens: number;
  layers: number;
  kvHeads: number;
  headDim: number;
  json?: string;
}

/** Registers `kvq bench` on `program`. */
export function registerBench(program: Command): void {
  program
    .command('bench')
    .description(
      'Throughput of compressed caches vs an fp16 baseline measured in the same run (cpu: encode/decode of each preset on a Llama-3.1-8B-shaped cache vs fp16 copy)',
    )
    .addOption(
      new Option('--backend <name>', 'backend to benchmark')
        .choices(['cpu', 'cuda', 'webgpu'])
        .default('cpu'),
    )
    .option('--presets <list>', 'comma-separated presets (default: all)')
    .option('--tokens <n>', 'cached tokens', integerArg('--tokens'), 2048)
    .option('--layers <n>', 'layers', integerArg('--layers'), 32)
    .option('--kv-heads <n>', 'KV heads', integerArg('--kv-heads'), 8)
    .option('--head-dim <n>', 'head dim', integerArg('--head-dim'), 128)
    .option('--json <out>', 'also write the results as JSON')
    .action(async (opts: BenchCommandOptions) => {
      await runBench(opts);
    });
}

/** Runs `kvq bench`. */
export async function runBench(opts: BenchCommandOptions): Promise<unknown> {
  if (opts.backend !== 'cpu') {
    throw new CliError(
      `kvq bench --backend ${opts.backend} runs on a GPU machine through the kernel package's own benchmark`,
      opts.backend === 'cuda'
        ? 'see packages/kernels-cuda/README.md (bench script)'
        : 'see packages/kernels-webgpu/README.md (node packages/kernels-webgpu/bench/run.mjs)',
    );
  }
  const presets = opts.presets ? opts.presets.split(',').map((s) => getPreset(s.trim())) : listPresets();
  const layout = {
    layers: opts.layers,
    queryHeads: opts.kvHeads * 4,
    kvHeads: opts.kvHeads,
    headDim: opts.headDim,
  };
  const r = benchCpuThroughput({
    layout,
    tokens: opts.tokens,
    presets,
    onPreset: (name) => process.stderr.write(`bench ${name}…\n`),
  });
  const head = ['preset', 'bits/val', 'encode MB/s', 'decode MB/s', 'enc/copy', 'dec/copy'];
  const rows = r.rows.map((x) => [
    x.preset,
    x.bitsPerValue.toFixed(3),
    x.encodeMBps.toFixed(0),
    x.decodeMBps.toFixed(0),
    x.encodeVsCopy.toFixed(4),
    x.decodeVsCopy.toFixed(4),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [
    `cpu bench: ${opts.tokens} tokens × ${layout.layers} layers × ${layout.kvHeads} KV heads × ${layout.headDim} dims, keys and values (${(r.fp16Bytes / 1e6).toFixed(0)} MB in fp16), blocks of ${r.blockTokens} tokens, one thread`,
    `baseline fp16 copy: ${r.copyMBps.toFixed(0)} MB/s; AQUA predictors (two linears per layer): ${r.predictorMBps.toFixed(0)} MB/s of fp16 cache (not included below)`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    'MB/s = MB of fp16 input (values × 2 bytes) per second; ratios are against the fp16 copy of the same run',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  if (opts.json) await writeFile(opts.json, `${JSON.stringify(r, null, 2)}\n`);
  return r;
}
