// kvq CUDA benchmark (Llama-3.1-8B attention shapes: 32 q heads, 8 KV heads, d 128). Run on the GPU
// machine: copy ceiling, quantize/dequantize throughput, paged decode attention (fp16, kivi-2, k4v2)
// vs PyTorch SDPA from bench/torch_sdpa.py (same run), capacity in 70 GiB allocated for real.
// Usage: node bench/dist/run.mjs [torch.json] [out.json]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { type HiggsSpec, SeededRandom, float32ToFloat16Bits, getPreset, layerQuantizers } from '@kvq/core';
import { higgsSigns } from '../src/higgs-pages.js';
import {
  DeviceBuffer,
  type PageFormat,
  PagedKVPool,
  type PagedLayout,
  ValueChainMaps,
  decodeAttention,
  decodeAttentionValueChain,
  defaultSplitPages,
  deviceMemory,
  foldKeyChain,
  foldValueChain,
  pageBytes,
  partialBytes,
  requireCuda,
  ropePartners,
} from '../src/index.js';

const { addon, device } = requireCuda();
const [torchPath, outPath] = process.argv.slice(2);
/**
 * PyTorch's baseline from bench/torch_sdpa.py (none when no path is given). A named file that is
 * missing or is not that script's output stops the bench before it measures anything.
 */
function loadTorch(
  path: string | undefined,
): { device?: string; sdpa: { B: number; ctx: number; ms?: number }[] } | undefined {
  if (!path) return undefined;
  if (!existsSync(path))
    throw new Error(
      `the PyTorch baseline ${path} does not exist (python3 bench/torch_sdpa.py ${path} writes it)`,
    );
  const t = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(t?.sdpa))
    throw new Error(
      `the PyTorch baseline ${path} has no "sdpa" rows: it is not bench/torch_sdpa.py's output`,
    );
  return t;
}
const torch = loadTorch(torchPath);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
/**
 * Median of `reps` single calls between two CUDA events. With `busyNs` a kernel keeps the GPU busy
 * before the start event while the host enqueues the call, so the figure is the GPU's time alone
 * (as triton's do_bench does); without it, an idle GPU also waits for the host's launches.
 */
function time(fn: (i: number) => void, reps = 20, warm = 3, busyNs = 0): number {
  for (let i = 0; i < warm; i++) fn(i);
  addon.sync();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    addon.eventBegin(busyNs);
    fn(i);
    ts.push(addon.eventEnd());
  }
  return median(ts);
}
/**
 * The host's time to enqueue one call of `fn`, µs: `calls` calls back to back without waiting (few
 * enough that the launch queue does not fill), after a warm-up and a sync.
 */
function hostMicros(fn: (i: number) => void, calls = 100): number {
  fn(0);
  addon.sync();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) fn(i);
  const us = ((performance.now() - t0) * 1000) / calls;
  addon.sync();
  return us;
}
/** GPU busy time before a GPU-alone measurement: longer than the host takes to enqueue one call. */
const BUSY_NS = 300_000;
/** Both timings of `fn` (see {@link time}): `ms` from an idle GPU, `gpuMs` the GPU alone. */
function timeBoth(fn: (i: number) => void, reps = 20, warm = 3): { ms: number; gpuMs: number } {
  return { ms: time(fn, reps, warm), gpuMs: time(fn, reps, warm, BUSY_NS) };
}
const rng = new SeededRandom(7);
const GiB = 2 ** 30;
const results: Record<string, unknown> = { device, date: new Date().toISOString() };

// 1. copy ceiling
const copyBytes = GiB;
let copyGBps: number;
{
  using a = new DeviceBuffer(copyBytes);
  using b = new DeviceBuffer(copyBytes);
  a.write(float32ToFloat16Bits(rng.normalArray(1 << 20)));
  const ms = time(() => addon.d2d(b.ptr, a.ptr, copyBytes));
  copyGBps = (2 * copyBytes) / ms / 1e6;
  results.copy = { bytes: copyBytes, ms, GBps: copyGBps };
  console.log(`copy: ${copyGBps.toFixed(0)} GB/s (read+write)`);
}

// KVQ_BENCH_PARTS=quant,attn,aqua-step,capacity selects parts (default: all four, the issue's items 2-5);
// KVQ_BENCH_FORMATS=a,b the formats
const parts = (process.env.KVQ_BENCH_PARTS ?? 'quant,attn,aqua-step,capacity').split(',');
// 2. quantize / dequantize throughput on fp16 [65536 tokens, 1024 channels]
const quant: Record<string, unknown>[] = [];
if (parts.includes('quant')) {
  const T = 65536;
  const C = 1024;
  const n = T * C;
  using x = new DeviceBuffer(n * 2);
  const chunk = float32ToFloat16Bits(rng.normalArray(1 << 22));
  for (let o = 0; o < n * 2; o += chunk.byteLength) x.write(chunk, o);
  using y = new DeviceBuffer(n * 2);
  for (const [label, bits, axisToken] of [
    ['uniform 2-bit keys (channel, g32)', 2, 0],
    ['uniform 2-bit values (token, g32)', 2, 1],
    ['uniform 4-bit keys (channel, g32)', 4, 0],
    ['uniform 4-bit values (token, g32)', 4, 1],
  ] as const) {
    const eb = addon.uniformBytes(T, C, bits, axisToken, 32);
    using enc = new DeviceBuffer(eb);
    const encMs = time(() => addon.uniformEncode(x.ptr, enc.ptr, T, C, bits, axisToken, 32, 1));
    const decMs = time(() => addon.uniformDecode(enc.ptr, y.ptr, T, C, bits, axisToken, 32, 1));
    const moved = n * 2 + eb;
    const r = {
      label,
      encodeGBps: moved / encMs / 1e6,
      decodeGBps: moved / decMs / 1e6,
      encodeFraction: moved / encMs / 1e6 / copyGBps,
      decodeFraction: moved / decMs / 1e6 / copyGBps,
    };
    quant.push(r);
    console.log(
      `${label}: encode ${(100 * r.encodeFraction).toFixed(0)}% decode ${(100 * r.decodeFraction).toFixed(0)}% of copy`,
    );
  }
  results.quant = quant;
}

// 3. decode attention over paged caches
const HQ = 32;
const HKV = 8;
const P = 128;
type Kernel = 'auto' | 'scalar' | 'tensor-core';
const kivi2: PageFormat = { kind: 'uniform', bitsK: 2, gsK: 32, bitsV: 2, gsV: 32 };
const k4v2: PageFormat = { kind: 'uniform', bitsK: 4, gsK: 32, bitsV: 2, gsV: 32 };
// KIVI-2 with groups of 128 (keys: 128 tokens per channel; values: 128 channels per token): 2.25 bits/value
const kivi2g128: PageFormat = { kind: 'uniform', bitsK: 2, gsK: 128, bitsV: 2, gsV: 128 };
const formats: [string, PageFormat, Kernel][] = [
  ['fp16', { kind: 'fp16' }, 'auto'],
  ['fp16 cuda-core', { kind: 'fp16' }, 'scalar'],
  ['kivi-2', kivi2, 'tensor-core'],
  ['k4v2', k4v2, 'tensor-core'],
  ['kivi-2/g128', kivi2g128, 'tensor-core'],
  // the WebGPU bench's k4v2 (4-bit keys, 2-bit values, groups of 128): 3.25 bits/value
  ['k4v2/g128', { kind: 'uniform', bitsK: 4, gsK: 128, bitsV: 2, gsV: 128 }, 'tensor-core'],
  // HIGGS pages (residual codes of AQUA-KV's predicted layers, read without the predictor): the
  // preset's own K/V specs of a predicted layer (aqua-2.5: K 2.5 / V 2 bits; aqua-2: 1.5 / 1.5;
  // kvq-2's most common width, K 2 / V 2), + 0.125 bits for the per-head scales
  ['aqua-2.5 pages', higgsPages('aqua-2.5', 1), 'tensor-core'],
  ['aqua-2 pages', higgsPages('aqua-2', 1), 'tensor-core'],
  ['kvq-2 K2/V2 pages', higgsPages('kvq-2', 8), 'tensor-core'],
];
function higgsPages(preset: string, layer: number): PageFormat {
  const q = layerQuantizers(getPreset(preset), layer);
  return { kind: 'higgs', keys: q.keys as HiggsSpec, values: q.values as HiggsSpec };
}
// KVQ_BENCH_SCALAR=1 adds the scalar uniform kernels; KVQ_BENCH_SWEEP the split-size sweep (below)
if (process.env.KVQ_BENCH_SCALAR === '1')
  formats.push(['kivi-2 scalar', kivi2, 'scalar'], ['k4v2 scalar', k4v2, 'scalar']);
const attn: Record<string, unknown>[] = [];
const sweep: Record<string, unknown>[] = [];
/**
 * Fills every page of a pool: 16 pages encoded from random K/V (every 37th key ×5, an outlier channel
 * pattern), copied over the rest (the kernels' time does not depend on the values).
 */
function fillPages(pool: PagedKVPool): void {
  const templates = Math.min(16, pool.pages);
  const n = P * HKV * 128;
  for (let i = 0; i < templates; i++) {
    const k = rng.normalArray(n);
    for (let j = 0; j < n; j += 37) k[j]! *= 5;
    pool.writePage(i, k, rng.normalArray(n));
  }
  for (let i = templates; i < pool.pages; i++) pool.copyPage(i, i % templates);
}
/** The page indices 0 … total − 1 shuffled (pages of a sequence scattered over the pool). */
function shuffledPages(total: number): Int32Array {
  const perm = Int32Array.from({ length: total }, (_, i) => i);
  for (let i = total - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  return perm;
}
/**
 * The query (random), lengths, output and split scratch of decode calls over `B` sequences of `ctx`
 * tokens, disposed together: `args` are decodeAttention's arguments but the pool and the page table.
 * Splits: `splitPages`, else the default for `format` (undefined: the scalar kernel's); the scratch
 * holds `valueLayers` accumulators per split.
 */
function decodeInputs(
  B: number,
  ctx: number,
  format: PageFormat | undefined,
  { splitPages: split, valueLayers }: { splitPages?: number; valueLayers?: number } = {},
) {
  const maxPages = ctx / P;
  const splitPages = split ?? defaultSplitPages(B, HKV, maxPages, device.multiProcessors, format);
  const owned: DeviceBuffer[] = [];
  const own = (b: DeviceBuffer) => {
    owned.push(b);
    return b;
  };
  try {
    const lengths = own(DeviceBuffer.from(new Int32Array(B).fill(ctx)));
    const query = own(DeviceBuffer.from(float32ToFloat16Bits(rng.normalArray(B * HQ * 128))));
    const out = own(new DeviceBuffer(B * HQ * 128 * 2));
    const partial = own(new DeviceBuffer(partialBytes(B, HQ, maxPages, splitPages, valueLayers)));
    const args = { query, lengths, out, partial, batch: B, queryHeads: HQ, maxPages, splitPages };
    return { args, [Symbol.dispose]: () => owned.forEach((b) => b.dispose()) };
  } catch (err) {
    for (const b of owned) b.dispose();
    throw err;
  }
}
function measure(
  name: string,
  format: PageFormat,
  kernel: Kernel,
  B: number,
  ctx: number,
  sink: Record<string, unknown>[],
  splitOverride?: number,
): void {
  const layout: PagedLayout = { format, pageTokens: P, kvHeads: HKV, headDim: 128 };
  const pb = pageBytes(layout);
  {
    const pagesPerSeq = ctx / P;
    const bytes = B * pagesPerSeq * pb;
    const copies = Math.max(1, Math.min(8, Math.ceil((256 * 2 ** 20) / bytes)));
    const total = B * pagesPerSeq * copies;
    try {
      using pool = new PagedKVPool(layout, total);
      fillPages(pool);
      const perm = shuffledPages(total);
      const tables = Array.from({ length: copies }, (_, c) =>
        DeviceBuffer.from(perm.subarray(c * B * pagesPerSeq, (c + 1) * B * pagesPerSeq)),
      );
      using _tables = { [Symbol.dispose]: () => tables.forEach((t) => t.dispose()) };
      using inputs = decodeInputs(B, ctx, kernel === 'scalar' ? undefined : format, {
        splitPages: splitOverride,
      });
      const { splitPages } = inputs.args;
      const call = (i: number) =>
        decodeAttention({ ...inputs.args, pool, pageTable: tables[i % copies]!, kernel });
      const { ms, gpuMs } = timeBoth(call);
      const r = {
        format: name,
        B,
        ctx,
        ms,
        gpuMs,
        cacheBytes: bytes,
        GBps: bytes / ms / 1e6,
        bitsPerValue: (pb * 8) / (2 * P * HKV * 128),
        splitPages,
      };
      sink.push(r);
      console.log(
        `attn ${name} B=${B} ctx=${ctx} split=${splitPages}: ${ms.toFixed(4)} ms (GPU alone ${gpuMs.toFixed(4)} ms), ${r.GBps.toFixed(0)} GB/s`,
      );
    } catch (err) {
      sink.push({ format: name, B, ctx, error: String(err) });
      console.log(`attn ${name} B=${B} ctx=${ctx}: ${String(err)}`);
    }
  }
}
if (process.env.KVQ_BENCH_FORMATS) {
  const keep = process.env.KVQ_BENCH_FORMATS.split(',');
  formats.splice(0, formats.length, ...formats.filter(([n]) => keep.includes(n)));
}
for (const [name, format, kernel] of parts.includes('attn') ? formats : [])
  for (const B of [1, 16])
    for (const ctx of [4096, 32768, 131072]) measure(name, format, kernel, B, ctx, attn);
results.attention = attn;
// split-size sweep (pages per block), to see whether the grid shape limits the kernels:
// KVQ_BENCH_SWEEP=1 sweeps four formats, KVQ_BENCH_SWEEP=a,b the formats named
const sweepEnv = process.env.KVQ_BENCH_SWEEP ?? '';
const sweepFormats =
  sweepEnv === '1'
    ? ['fp16', 'kivi-2', 'kivi-2/g128', 'aqua-2.5 pages']
    : sweepEnv
      ? sweepEnv.split(',')
      : [];
// KVQ_BENCH_SWEEP_BATCH / KVQ_BENCH_SWEEP_SPLITS: comma lists replacing the batches (1,16) and splits
const envList = (v: string | undefined, dflt: number[]) => (v ? v.split(',').map(Number) : dflt);
const sweepBatches = envList(process.env.KVQ_BENCH_SWEEP_BATCH, [1, 16]);
const sweepSplits = envList(process.env.KVQ_BENCH_SWEEP_SPLITS, [4, 8, 16, 32, 64]);
// KVQ_BENCH_SWEEP_CTX: the contexts swept (default 32768,131072), e.g. one shape for a profiler
const sweepContexts = envList(process.env.KVQ_BENCH_SWEEP_CTX, [32768, 131072]);
for (const [name, format, kernel] of formats.filter(([n]) => sweepFormats.includes(n)))
  for (const B of sweepBatches)
    for (const ctx of sweepContexts)
      for (const sp of sweepSplits) measure(name, format, kernel, B, ctx, sweep, sp);
results.splitSweep = sweep;

// 4. AQUA-KV's decode step over 32 layers with values predicted per KV head from the previous layer's
// values, folded into attention (decodeAttentionValueChain), anchors (layers stored without prediction)
// every A layers: layer l reads its own key codes and the value residual codes of layers l … its anchor.
// 32 real pools of aqua-2.5 pages (the same widths for anchors and predicted layers); random predictors
// (the time does not depend on their values). Baselines in the same run: kvq fp16 and aqua-2.5 pages
// without prediction (A = 1), each 32 launches, and PyTorch's SDPA × 32 (torch.json).
const aquaStep: Record<string, unknown>[] = [];
if (parts.includes('aqua-step')) {
  const format = higgsPages('aqua-2.5', 1);
  if (format.kind !== 'higgs') throw new Error('aqua-2.5 pages are HIGGS');
  const layout: PagedLayout = { format, pageTokens: P, kvHeads: HKV, headDim: 128 };
  const L = 32;
  // keys: with a key chain, RoPE-diagonal key predictors (one complex scalar per RoPE pair) folded too
  const partner = ropePartners('neox');
  const foldedFor = (nv: number, keys: boolean) => {
    const preds = Array.from({ length: nv - 1 }, () => ({
      weight: Float32Array.from(rng.normalArray(HKV * 128 * 128), (x) => (0.5 * x) / Math.sqrt(128)),
      bias: Float32Array.from(rng.normalArray(HKV * 128), (x) => 0.1 * x),
    }));
    const keyMaps = Array.from({ length: nv - 1 }, () => {
      const a = new Float32Array(HKV * 128);
      const b = new Float32Array(HKV * 128);
      for (let i = 0; i < HKV * 128; i++) {
        if (i % 128 < 64) {
          const phi = 2 * Math.PI * rng.next();
          a[i] = a[i + 64] = 0.8 * Math.cos(phi);
          b[i] = -0.8 * Math.sin(phi);
          b[i + 64] = 0.8 * Math.sin(phi);
        }
      }
      return { a, b };
    });
    return new ValueChainMaps(
      foldValueChain(preds, HKV, higgsSigns(format.values)),
      keys ? foldKeyChain(keyMaps, HKV, partner) : undefined,
    );
  };
  const mapsByNv = new Map<string, ValueChainMaps>(
    [2, 3, 4].flatMap((nv) => [
      [`v${nv}`, foldedFor(nv, false)],
      [`kv${nv}`, foldedFor(nv, true)],
    ]),
  );
  for (const [B, ctx] of [
    [1, 32768],
    [16, 32768],
  ] as const) {
    const pagesPerSeq = ctx / P;
    const total = B * pagesPerSeq;
    const pools: PagedKVPool[] = [];
    try {
      for (let l = 0; l < L; l++) pools.push(new PagedKVPool(layout, total));
      fillPages(pools[0]!);
      for (let l = 1; l < L; l++)
        addon.d2d(pools[l]!.buffer.ptr, pools[0]!.buffer.ptr, pools[0]!.buffer.bytes);
      using table = DeviceBuffer.from(shuffledPages(total));
      using inputs = decodeInputs(B, ctx, format, { valueLayers: 4 });
      const { splitPages } = inputs.args;
      const common = { ...inputs.args, pageTable: table };
      const layer = (l: number, A: number, keys: boolean) => {
        const nv = (l % A) + 1; // value layers: l's own and back to its anchor ⌊l/A⌋·A
        if (nv === 1) decodeAttention({ ...common, pool: pools[l]!, kernel: 'tensor-core' });
        else
          decodeAttentionValueChain({
            ...common,
            pool: pools[l]!,
            chain: pools.slice(l - nv + 1, l).reverse(),
            maps: mapsByNv.get(`${keys ? 'kv' : 'v'}${nv}`)!,
          });
      };
      for (const keys of [false, true]) {
        const what = keys ? 'keys and values' : 'values';
        // one layer at a time, by layers read (the layer after an anchor reads 2, …)
        for (const nv of keys ? [2, 3, 4] : [1, 2, 3, 4]) {
          const call = () => layer(nv - 1, 4, keys);
          const { ms, gpuMs } = timeBoth(call);
          const hostUs = hostMicros(call);
          aquaStep.push({
            kind: 'layer',
            folded: what,
            B,
            ctx,
            valueLayers: nv,
            ms,
            gpuMs,
            hostUs,
            splitPages,
          });
          console.log(
            `aqua-step layer, ${what} folded, ${nv} layer(s) B=${B} ctx=${ctx}: ${ms.toFixed(4)} ms (GPU alone ${gpuMs.toFixed(4)}), host ${hostUs.toFixed(1)} µs/call`,
          );
        }
        for (const A of keys ? [2, 3, 4] : [1, 2, 3, 4]) {
          const step = () => {
            for (let l = 0; l < L; l++) layer(l, A, keys);
          };
          const { ms, gpuMs } = timeBoth(step, 10, 2);
          const reads = Array.from({ length: L }, (_, l) => (l % A) + 1).reduce((s, x) => s + x, 0);
          aquaStep.push({
            kind: 'step',
            folded: what,
            B,
            ctx,
            anchorEvery: A,
            ms,
            gpuMs,
            valueLayersRead: reads,
          });
          console.log(
            `aqua-step 32 layers, ${what} folded, anchors every ${A}, B=${B} ctx=${ctx}: ${ms.toFixed(3)} ms (GPU alone ${gpuMs.toFixed(3)}), ${reads} layers read`,
          );
        }
      }
    } catch (err) {
      aquaStep.push({ kind: 'error', B, ctx, error: String(err) });
      console.log(`aqua-step B=${B} ctx=${ctx}: ${String(err)}`);
    } finally {
      for (const p of pools) p.dispose();
    }
    // the fp16 baseline: kvq's fp16 kernel 32 times over one pool (2 GiB at B=16: no cache reuse)
    try {
      const fl: PagedLayout = { format: { kind: 'fp16' }, pageTokens: P, kvHeads: HKV, headDim: 128 };
      using pool = new PagedKVPool(fl, total);
      fillPages(pool);
      using table = DeviceBuffer.from(Int32Array.from({ length: total }, (_, i) => i));
      using inputs = decodeInputs(B, ctx, fl.format);
      const step = () => {
        for (let l = 0; l < L; l++) decodeAttention({ ...inputs.args, pool, pageTable: table });
      };
      const { ms, gpuMs } = timeBoth(step, 10, 2);
      aquaStep.push({ kind: 'fp16 step', B, ctx, ms, gpuMs });
      console.log(
        `aqua-step fp16 32 layers B=${B} ctx=${ctx}: ${ms.toFixed(3)} ms (GPU alone ${gpuMs.toFixed(3)})`,
      );
    } catch (err) {
      aquaStep.push({ kind: 'error', B, ctx, error: `fp16: ${String(err)}` });
    }
  }
  for (const m of mapsByNv.values()) m.dispose();
  results.aquaStep = aquaStep;
}

// 5. capacity in 70 GiB, 32 layers, allocated for real (one buffer per layer)
const budget = 70 * GiB;
const capacity: Record<string, unknown>[] = [];
for (const [name, format] of parts.includes('capacity')
  ? formats.filter(([n]) => !n.endsWith('scalar'))
  : []) {
  const pb = pageBytes({ format, pageTokens: P, kvHeads: HKV, headDim: 128 });
  const perTokenAllLayers = (32 * pb) / P;
  const maxPagesPerLayer = Math.floor(budget / 32 / pb);
  const tryAlloc = (pagesPerLayer: number): boolean => {
    const bufs: DeviceBuffer[] = [];
    try {
      for (let l = 0; l < 32; l++) bufs.push(new DeviceBuffer(pagesPerLayer * pb));
      return true;
    } catch {
      return false;
    } finally {
      for (const b of bufs) b.dispose();
    }
  };
  const longest = maxPagesPerLayer * P;
  const longestOk = tryAlloc(maxPagesPerLayer);
  const batch32k = Math.floor(maxPagesPerLayer / (32768 / P));
  const batchOk = tryAlloc(batch32k * (32768 / P));
  capacity.push({
    format: name,
    bytesPerToken: perTokenAllLayers,
    longestContextB1: longest,
    longestAllocated: longestOk,
    largestBatch32k: batch32k,
    batchAllocated: batchOk,
  });
}
results.capacity = capacity;
results.memoryAfter = deviceMemory();

// torch baseline from the same run
results.torch = torch;
if (outPath) writeFileSync(outPath, JSON.stringify(results, null, 1));

// table last
const tms = (B: number, ctx: number) => torch?.sdpa.find((r) => r.B === B && r.ctx === ctx)?.ms;
const get = (f: string, B: number, ctx: number) =>
  attn.find((r) => r.format === f && r.B === B && r.ctx === ctx) as { ms?: number } | undefined;
console.log(
  `\n== kvq CUDA bench on ${device.name} (cc ${device.computeCapability}), ${new Date().toISOString().slice(0, 10)} ==`,
);
console.log(`copy ceiling: ${copyGBps.toFixed(0)} GB/s`);
for (const r of quant as {
  label: string;
  encodeFraction: number;
  decodeFraction: number;
  encodeGBps: number;
  decodeGBps: number;
}[]) {
  console.log(
    `| ${r.label} | encode ${r.encodeGBps.toFixed(0)} GB/s (${(100 * r.encodeFraction).toFixed(0)}%) | decode ${r.decodeGBps.toFixed(0)} GB/s (${(100 * r.decodeFraction).toFixed(0)}%) |`,
  );
}
const shown = formats.map(([n]) => n);
const bitsOf = (f: string) =>
  (
    attn.find((r) => r.format === f && (r as { bitsPerValue?: number }).bitsPerValue) as {
      bitsPerValue?: number;
    }
  )?.bitsPerValue;
console.log(
  `| B | ctx | torch sdpa fp16 ms | ${shown.map((f) => `kvq ${f} (${bitsOf(f)?.toFixed(2) ?? '?'} b) ms (torch ÷ kvq)`).join(' | ')} |`,
);
for (const B of [1, 16]) {
  for (const ctx of [4096, 32768, 131072]) {
    const t = tms(B, ctx);
    const cell = (f: string) => {
      const m = get(f, B, ctx)?.ms;
      return m === undefined ? 'n/a' : `${m.toFixed(4)} (${t ? (t / m).toFixed(2) : '?'}×)`;
    };
    console.log(`| ${B} | ${ctx} | ${t?.toFixed(4) ?? 'n/a'} | ${shown.map(cell).join(' | ')} |`);
  }
}
if (aquaStep.length) {
  type Row = {
    kind: string;
    B: number;
    ctx: number;
    anchorEvery?: number;
    valueLayers?: number;
    folded?: string;
    ms?: number;
    gpuMs?: number;
    hostUs?: number;
  };
  const rows = aquaStep as Row[];
  console.log(
    '| AQUA-KV step, 32 layers (aqua-2.5 pages; one-layer rows: one layer, against one layer of each baseline) | B | ctx | ms (idle GPU) | GPU alone | host µs/call | × kvq fp16 | PyTorch SDPA ÷ kvq |',
  );
  for (const B of [1, 16]) {
    const ctx = 32768;
    const f16 = rows.find((r) => r.kind === 'fp16 step' && r.B === B);
    const t = tms(B, ctx);
    // layers: how many layers the row's time covers (32 for a step, 1 for a one-layer row); both
    // ratios are against the same number of fp16 / PyTorch layers
    const line = (name: string, r?: Row, layers = 32) =>
      r?.ms !== undefined &&
      console.log(
        `| ${name} | ${B} | ${ctx} | ${r.ms.toFixed(3)} | ${r.gpuMs?.toFixed(3)} | ${r.hostUs?.toFixed(1) ?? '–'} | ${f16?.ms ? (r.ms / ((f16.ms * layers) / 32)).toFixed(2) : '?'} | ${t ? ((layers * t) / r.ms).toFixed(2) : '?'} |`,
      );
    line('kvq fp16', f16);
    for (const what of ['values', 'keys and values']) {
      for (const A of [1, 2, 3, 4])
        line(
          A === 1 ? 'no prediction (every layer an anchor)' : `${what} folded, anchors every ${A}`,
          rows.find((r) => r.kind === 'step' && r.folded === what && r.B === B && r.anchorEvery === A),
        );
      for (const nv of [1, 2, 3, 4])
        line(
          `one layer, ${what} folded, ${nv} layer(s)`,
          rows.find((r) => r.kind === 'layer' && r.folded === what && r.B === B && r.valueLayers === nv),
          1,
        );
    }
  }
}
for (const c of capacity as {
  format: string;
  longestContextB1: number;
  longestAllocated: boolean;
  largestBatch32k: number;
  batchAllocated: boolean;
  bytesPerToken: number;
}[]) {
  console.log(
    `| capacity ${c.format} | ${c.bytesPerToken} B/token (32 layers) | longest B=1: ${c.longestContextB1} (${c.longestAllocated ? 'allocated' : 'ALLOC FAILED'}) | batch @32k: ${c.largestBatch32k} (${c.batchAllocated ? 'allocated' : 'ALLOC FAILED'}) |`,
  );
}
