/**
 * What the Vulkan driver made of the fused decode-attention kernels: registers, shared memory,
 * instruction counts — whatever the driver reports through VK_KHR_pipeline_executable_properties.
 *
 * `node .webgpu-bench/pipeline-stats.mjs [--shape 16x32768] [--ir DIR] "<method>[:<letters>]" …`
 * (bundle: `node bench/build.mjs`; methods are bench/methods.ts' rows, letters its `parseVariant`
 * ones, e.g. `"aqua-2.5 sg f16:g1"`). For each, a child process builds the kernel with Dawn's
 * `dump_shaders` toggle and records one step; the largest SPIR-V module it dumps (the attention
 * kernel; the split combine is small) is assembled by `spirv-as` and built again by
 * `vk-pipeline-stats` (bench/vk-pipeline-stats.c) with the driver's statistics captured. Needs
 * `spirv-as` and `vk-pipeline-stats` on PATH or beside this script (`$KVQ_SPIRV_AS`,
 * `$KVQ_VK_PIPELINE_STATS` override), and a Vulkan driver with the extension (NVIDIA's has it).
 * Prints one block per kernel and a table of the statistics last.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DecodeAttention, GpuBuffer, GpuKvTensor, Recorder, createGpuContext } from '../src/index.js';
import { METHODS, parseVariant, variantOptions } from './methods.js';

const args = process.argv.slice(2);
const opt = (k: string) => (args.includes(k) ? args[args.indexOf(k) + 1] : undefined);
const here = dirname(fileURLToPath(import.meta.url));

/** Child: build one kernel with dump_shaders on, record and run one step, exit. */
async function emit(spec: string, B: number, N: number): Promise<void> {
  const [name, letters] = spec.split(':') as [string, string | undefined];
  const m = METHODS.find((x) => x.name === name);
  if (!m)
    throw new Error(
      `unknown method ${JSON.stringify(name)} (bench/methods.ts: ${METHODS.map((x) => x.name).join(', ')})`,
    );
  const v = letters ? parseVariant(letters, m.kernel) : { noSubgroups: false };
  const ctx = await createGpuContext({
    powerPreference: 'high-performance',
    dawnFlags: ['enable-dawn-features=dump_shaders,disable_symbol_renaming'],
    nvidiaShaderF16: true,
  });
  const shape = { batch: B, tokens: N, kvHeads: 8, headDim: 128 };
  using k = new GpuKvTensor(ctx, m.k, { ...shape, blockTokens: N }, 'stats K');
  using vt = new GpuKvTensor(ctx, m.v, { ...shape, blockTokens: N }, 'stats V');
  using attn = new DecodeAttention(
    ctx,
    { batch: B, tokens: N, queryHeads: 32, kvHeads: 8, headDim: 128 },
    k.tileFormat(),
    vt.tileFormat(),
    variantOptions(m, v),
  );
  using qb = new GpuBuffer(ctx, B * 32 * 128 * 4, undefined, 'stats q');
  using ob = new GpuBuffer(ctx, B * 32 * 128 * 4, undefined, 'stats out');
  const rec = new Recorder(ctx);
  attn.record(rec, qb, k, vt, ob);
  rec.submit();
  await ctx.device.queue.onSubmittedWorkDone();
  console.log(
    `@@kernel ${attn.kernel} tpt=${attn.tokensPerThread} chunks=${attn.nChunks} tiles=${attn.tilesPerChunk}`,
  );
  ctx.dispose();
}

/** The SPIR-V disassembly blocks of Dawn's dump_shaders output. */
function spirvBlocks(text: string): string[] {
  const out: string[] = [];
  const parts = text.split('/* Dumped SPIRV disassembly */');
  for (const p of parts.slice(1)) {
    // a block ends where Dawn's next log message starts
    const end = p.search(/\n(info|warning|error):\n|\n\/\/ Dumped WGSL:|\n@@kernel /);
    out.push(end < 0 ? p : p.slice(0, end));
  }
  return out;
}

function tool(envName: string, name: string): string {
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  const beside = join(here, name);
  return existsSync(beside) ? beside : name;
}

async function main(): Promise<void> {
  const [B, N] = (opt('--shape') ?? '16x32768').split('x').map(Number) as [number, number];
  if (!(B! > 0 && N! > 0)) throw new Error(`--shape must be BxN, got ${opt('--shape')}`);
  if (args[0] === '--emit') {
    await emit(args[1]!, B, N);
    return;
  }
  const irDir = opt('--ir');
  const specs = args.filter(
    (a, i) => !a.startsWith('--') && !['--shape', '--ir'].includes(args[i - 1] ?? ''),
  );
  if (specs.length === 0) throw new Error('name at least one "<method>[:<letters>]"');
  const work = mkdtempSync(join(tmpdir(), 'kvq-pstats-'));
  if (irDir) mkdirSync(irDir, { recursive: true });
  const rows: { spec: string; kernel: string; stats: Map<string, string> }[] = [];
  for (const [i, spec] of specs.entries()) {
    const child = spawnSync(
      process.execPath,
      [fileURLToPath(import.meta.url), '--emit', spec, '--shape', `${B}x${N}`],
      {
        encoding: 'utf8',
        maxBuffer: 1 << 28,
      },
    );
    const text = `${child.stdout}\n${child.stderr}`;
    if (child.status !== 0)
      throw new Error(`${spec}: the kernel did not build (exit ${child.status}):\n${text.slice(-3000)}`);
    const kernel = /@@kernel (.*)/.exec(text)?.[1] ?? '?';
    const blocks = spirvBlocks(text);
    if (blocks.length === 0) throw new Error(`${spec}: Dawn dumped no SPIR-V (is dump_shaders supported?)`);
    const biggest = blocks.reduce((a, b) => (b.length > a.length ? b : a));
    const asm = join(work, `k${i}.spvasm`);
    const spv = join(work, `k${i}.spv`);
    // spirv-as releases before 2024 do not know this execution mode: its number, as a raw word
    writeFileSync(asm, biggest.replace(/\bMaximallyReconvergesKHR\b/g, '!6023'));
    const as = spawnSync(tool('KVQ_SPIRV_AS', 'spirv-as'), ['--target-env', 'spv1.4', '-o', spv, asm], {
      encoding: 'utf8',
    });
    if (as.status !== 0) throw new Error(`${spec}: spirv-as failed: ${as.stderr || as.error}`);
    const st = spawnSync(tool('KVQ_VK_PIPELINE_STATS', 'vk-pipeline-stats'), irDir ? ['--ir', spv] : [spv], {
      encoding: 'utf8',
      env: { ...process.env, ...(irDir ? { VKPS_IR_DIR: irDir } : {}) },
      maxBuffer: 1 << 28,
    });
    if (st.status !== 0) throw new Error(`${spec}: vk-pipeline-stats failed: ${st.stderr || st.error}`);
    if (irDir) writeFileSync(join(irDir, `k${i}.txt`), `${spec}\n${st.stdout}`);
    const stats = new Map<string, string>();
    for (const line of st.stdout.split('\n')) {
      const s = /^ {2}([^:]+): (\S+) {2}\(/.exec(line);
      if (s) stats.set(s[1]!, s[2]!);
    }
    // the statistics, and of the internal representations (--ir) only their headers: names and sizes (the
    // text ones in full go to DIR/k<i>.txt, binary ones beside it)
    const lines = st.stdout.split('\n');
    const firstIr = lines.findIndex((l) => l.startsWith('  -- '));
    const head = firstIr < 0 ? lines : lines.slice(0, firstIr);
    const irHeads = lines.filter((l) => l.startsWith('  -- ') || l.startsWith('  (written to '));
    console.log(`${spec} [${kernel}]\n${[...head, ...irHeads].join('\n')}`);
    rows.push({ spec, kernel, stats });
  }
  const names = [...new Set(rows.flatMap((r) => [...r.stats.keys()]))];
  console.log(`\n| kernel | ${names.join(' | ')} |`);
  console.log(`| --- | ${names.map(() => '---:').join(' | ')} |`);
  for (const r of rows)
    console.log(`| ${r.spec} (${r.kernel}) | ${names.map((n) => r.stats.get(n) ?? '').join(' | ')} |`);
}

await main();
