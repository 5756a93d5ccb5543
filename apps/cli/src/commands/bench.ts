import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { getPreset, listPresets } from '@kvq/core';
import { type Command, Option } from 'commander';
import { integerArg } from '../args.js';
import { benchCpuThroughput } from '../bench/cpu-throughput.js';
import { CliError, EXIT } from '../errors.js';
import { isFile } from '../inputs.js';
import { type JsonOption, jsonOnStdout, printResult } from '../output.js';
import { benchPlotSpec } from '../plot/bench-plot.js';
import { checkPlotPath, writePlot } from '../plot/render.js';
import { createProgress, progressMode } from '../progress.js';

/** Options of `kvq bench` after parsing. */
export interface BenchCommandOptions {
  backend: 'cpu' | 'cuda' | 'webgpu';
  presets?: string;
  tokens: number;
  layers: number;
  kvHeads: number;
  headDim: number;
  json?: JsonOption;
  plot?: string;
  results?: string;
  torch?: string;
  quick?: boolean;
  progress: boolean;
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
    .option(
      '--json [out]',
      'print the results as JSON instead of the table; with a file name, print the table and also write the JSON there',
    )
    .option(
      '--plot <out.svg|out.png>',
      'draw decode-attention speed-up over PyTorch vs context length per preset (from --results, or the cuda run)',
    )
    .option('--results <bench.json>', 'a CUDA bench result to plot instead of running a benchmark')
    .option('--torch <torch.json>', 'cuda: the PyTorch baseline from bench/torch_sdpa.py of the same run')
    .option('--quick', 'webgpu: small shapes only (a shorter run)')
    .option('--no-progress', 'no progress on stderr')
    .action(async (opts: BenchCommandOptions) => {
      await runBench(opts);
    });
}

async function plotResults(path: string, out: string, json: JsonOption): Promise<void> {
  if (!isFile(path))
    throw new CliError(`results file not found: ${path}`, 'pass the JSON a CUDA bench wrote', EXIT.input);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new CliError(
      `${path}: not JSON (${(err as Error).message})`,
      'pass the JSON a CUDA bench wrote',
      EXIT.input,
    );
  }
  const spec = benchPlotSpec(parsed, path);
  await writePlot(spec, out);
  if (jsonOnStdout(json)) {
    const values = (spec as { data?: { values?: unknown[] } }).data?.values ?? [];
    process.stdout.write(`${JSON.stringify({ plot: out, source: path, points: values }, null, 2)}\n`);
  } else process.stdout.write(`wrote ${out}\n`);
}

/**
 * `kvq bench --backend cuda`: runs @kvq/kernels-cuda's benchmark (copy ceiling, quantize/dequantize
 * throughput, decode attention vs PyTorch, the 32-layer AQUA-KV step, capacity) when CUDA is usable
 * here; the bundle is built
 * with `node bench/build.mjs` in that package.
 */
async function runCudaBench(opts: BenchCommandOptions): Promise<void> {
  let cuda: { isAvailable(): boolean; unavailableReason(): string | undefined };
  try {
    cuda = await import('@kvq/kernels-cuda');
  } catch {
    throw new CliError('@kvq/kernels-cuda is not installed', 'pnpm add @kvq/kernels-cuda');
  }
  if (!cuda.isAvailable())
    throw new CliError(
      `CUDA is not usable here: ${cuda.unavailableReason()}`,
      'run kvq bench --backend cuda on a machine with an NVIDIA GPU',
    );
  const dir = dirname(createRequire(import.meta.url).resolve('@kvq/kernels-cuda/package.json'));
  const script = join(dir, 'bench', 'dist', 'run.mjs');
  if (!isFile(script))
    throw new CliError(
      `the CUDA bench bundle is missing (${script})`,
      `run \`node ${join(dir, 'bench', 'build.mjs')}\` first`,
    );
  const { out, toStdout } = spawnBench(
    script,
    (o) => [opts.torch ?? '', o],
    opts.json,
    'kvq-cuda-bench.json',
    (status) => new CliError(`the CUDA bench failed (exit ${status})`),
  );
  if (opts.plot) await plotResults(out, opts.plot, toStdout ? undefined : opts.json);
  if (toStdout) process.stdout.write(await readFile(out, 'utf8'));
}

/**
 * Runs a kernel package's bench script with this Node; `args(out)` are its arguments given the JSON
 * path (`--json <path>`, else `<cwd>/<defaultName>`). With a bare `--json` the bench's own text goes
 * to stderr, so that the caller can write only the JSON to stdout (`toStdout`).
 */
function spawnBench(
  script: string,
  args: (out: string) => string[],
  json: BenchCommandOptions['json'],
  defaultName: string,
  failed: (status: number | null) => CliError,
): { out: string; toStdout: boolean } {
  const toStdout = jsonOnStdout(json);
  const out = typeof json === 'string' ? json : join(process.cwd(), defaultName);
  const r = spawnSync(process.execPath, [script, ...args(out)], {
    stdio: toStdout ? ['inherit', 2, 2] : 'inherit',
  });
  if (r.status !== 0) throw failed(r.status);
  return { out, toStdout };
}

/**
 * `kvq bench --backend webgpu`: runs @kvq/kernels-webgpu's device benchmark (copy ceiling, on-device
 * checks against fp64, encode/decode throughput, fused decode attention per K/V format with f32 and
 * packed-f16 arithmetic vs the WebGPU fp16 kernel) from a repository checkout: `bench/run.mjs` there
 * bundles it and runs it with this Node (Dawn from the `webgpu` package). `--plot` is CUDA's.
 */
async function runWebGpuBench(opts: BenchCommandOptions): Promise<void> {
  if (opts.plot)
    throw new CliError(
      '--plot draws speed-ups over PyTorch from a CUDA bench',
      'use --plot with --backend cuda, or with --results <cuda bench.json>',
      EXIT.usage,
    );
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve('@kvq/kernels-webgpu/package.json'));
  } catch {
    throw new CliError('@kvq/kernels-webgpu is not installed', 'pnpm add @kvq/kernels-webgpu webgpu');
  }
  const script = join(dir, 'bench', 'run.mjs');
  if (!isFile(script))
    throw new CliError(
      `the WebGPU bench is not part of the installed package (${script} is missing)`,
      'run kvq bench --backend webgpu from a kvq repository checkout (pnpm install there)',
    );
  const { out, toStdout } = spawnBench(
    script,
    (o) => ['--out', o, ...(opts.quick ? ['--quick'] : [])],
    opts.json,
    'kvq-webgpu-bench.json',
    (status) =>
      new CliError(
        `the WebGPU bench failed (exit ${status})`,
        'it needs a WebGPU adapter: a GPU with a Vulkan driver, or packages/kernels-webgpu/scripts/setup-vulkan.sh for a software one',
      ),
  );
  if (toStdout) process.stdout.write(await readFile(out, 'utf8'));
}

/** Runs `kvq bench`. */
export async function runBench(opts: BenchCommandOptions): Promise<unknown> {
  if (opts.results) {
    if (!opts.plot) throw new CliError('--results needs --plot <out.svg>', undefined, EXIT.usage);
    checkPlotPath(opts.plot);
    await plotResults(opts.results, opts.plot, opts.json);
    return undefined;
  }
  if (opts.plot) checkPlotPath(opts.plot);
  if (opts.backend === 'cuda') return runCudaBench(opts);
  if (opts.backend === 'webgpu') return runWebGpuBench(opts);
  if (opts.plot)
    throw new CliError(
      '--plot draws decode-attention speed-ups, which the cpu bench does not measure',
      'use --plot with --backend cuda, or with --results <cuda bench.json>',
      EXIT.usage,
    );
  const presets = opts.presets ? opts.presets.split(',').map((s) => getPreset(s.trim())) : listPresets();
  const layout = {
    layers: opts.layers,
    queryHeads: opts.kvHeads * 4,
    kvHeads: opts.kvHeads,
    headDim: opts.headDim,
  };
  const progress = createProgress(
    progressMode({ progress: opts.progress, jsonStdout: jsonOnStdout(opts.json), linesWhenPiped: true }),
    'bench',
    '{value}/{total} presets | {preset}',
    { everyMs: 0 },
  );
  progress.start(presets.length, { preset: presets[0]?.name ?? '' });
  let r: ReturnType<typeof benchCpuThroughput>;
  try {
    r = benchCpuThroughput({
      layout,
      tokens: opts.tokens,
      presets,
      onPreset: (name, i) => progress.update(i, { preset: name }),
    });
    progress.update(presets.length, { preset: 'done' });
  } finally {
    progress.stop();
  }
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
  await printResult(opts.json, r, out.join('\n'));
  return r;
}
