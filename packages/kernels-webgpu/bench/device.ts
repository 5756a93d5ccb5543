/**
 * Device benchmark + on-device checks of @kvq/kernels-webgpu (run with node after bundling:
 * `node bench/build.mjs && node .webgpu-bench/device.mjs [--quick] [--out file.json]`).
 * Sections: adapter, correctness checks vs the CPU reference, copy ceiling, encode/decode
 * throughput, fused decode attention (Llama-3.1-8B shapes: 32 q heads, 8 kv heads, d 128).
 * Prints a table last and writes JSON.
 */
import { writeFileSync } from 'node:fs';
import {
  InvalidArgumentError,
  type QuantizerSpec,
  SeededRandom,
  UnsupportedOpError,
  createQuantizer,
} from '@kvq/core';
import {
  BufferScope,
  DecodeAttention,
  type DecodeAttentionOptions,
  type GpuContext,
  GpuKvTensor,
  Recorder,
  createGpuContext,
  createWebGpuBackend,
  grid,
  recordDecode,
  recordEncode,
} from '../src/index.js';
import { copyWgsl } from '../src/kernels/copy.wgsl.js';
import {
  decodeReferences,
  encodeKvBlocks,
  refAttention,
  worstSequenceError,
} from '../test/attention-reference.js';
import { runDecodeAttention } from '../test/decode-attention-run.js';
import { relErr, relMaxErr } from '../test/metrics.js';
import { genWgsl } from './gen.wgsl.js';
import { type BenchVariant, F16, FP8, METHODS, parseVariant, u, variantOptions } from './methods.js';
import { timeRecorded } from './timing.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
/** `--methods a,b,…`: time only these rows of METHODS (the checks run them all) */
const methodFilter = args.includes('--methods')
  ? (args[args.indexOf('--methods') + 1] ?? '').split(',')
  : null;
const outPath =
  args[args.indexOf('--out') + 1] && args.includes('--out')
    ? args[args.indexOf('--out') + 1]!
    : 'webgpu-bench.json';
const log = (...a: unknown[]) => console.log(...a);

interface Result {
  [k: string]: unknown;
}
const results: {
  info: Result;
  checks: Result[];
  copy: Result[];
  codec: Result[];
  attention: Result[];
  sweep: Result[];
} = {
  sweep: [],
  info: {},
  checks: [],
  copy: [],
  codec: [],
  attention: [],
};

/**
 * Tolerance of the fused kernels vs fp64 over the same decoded cache (relative to the output's
 * largest value): fp32 arithmetic, or for `'mma'` a 16-bit fixed-point query and softmax weights
 * (steps of 1/32512 of the largest element, summed over up to 128 channels of codes < 16).
 */
const attnTolerance = (kernel: string) => (kernel === 'mma' ? 1e-3 : kernel === 'f16' ? 3e-3 : 1e-4);

/** The int8 subgroup-matrix kernel vs fp64: formats, GQA widths, tails, scales, chunking. */
async function mmaChecks(ctx: GpuContext, rng: SeededRandom): Promise<void> {
  const cases: {
    name: string;
    k: QuantizerSpec;
    v: QuantizerSpec;
    D: number;
    Hq: number;
    Hkv: number;
    B: number;
    N: number;
    cap: number;
    bt: number;
    vScale?: number;
    tiles?: number;
    prefetch?: boolean;
  }[] = [
    {
      name: 'kivi-2 g128',
      k: u(2, 'channel', 128),
      v: u(2, 'token', 128),
      D: 128,
      Hq: 32,
      Hkv: 8,
      B: 2,
      N: 512,
      cap: 512,
      bt: 128,
    },
    {
      name: 'kivi-2 g128, 456 of 512 tokens',
      k: u(2, 'channel', 128),
      v: u(2, 'token', 128),
      D: 128,
      Hq: 32,
      Hkv: 8,
      B: 2,
      N: 456,
      cap: 512,
      bt: 128,
    },
    {
      name: 'kivi-2 g128, 456 of 512 tokens, no prefetch',
      k: u(2, 'channel', 128),
      v: u(2, 'token', 128),
      D: 128,
      Hq: 32,
      Hkv: 8,
      B: 2,
      N: 456,
      cap: 512,
      bt: 128,
      prefetch: false,
    },
    {
      name: 'k4v2 g32/g32',
      k: u(4, 'channel', 32),
      v: u(2, 'token', 32),
      D: 128,
      Hq: 32,
      Hkv: 8,
      B: 2,
      N: 256,
      cap: 256,
      bt: 64,
    },
    {
      name: 'k2v4 g64/g64, GQA 8 (N=16)',
      k: u(2, 'channel', 64),
      v: u(4, 'token', 64),
      D: 128,
      Hq: 16,
      Hkv: 2,
      B: 2,
      N: 384,
      cap: 384,
      bt: 128,
    },
    {
      name: 'k1v4, GQA 1',
      k: u(1, 'channel', 32),
      v: u(4, 'token', 128),
      D: 128,
      Hq: 4,
      Hkv: 4,
      B: 1,
      N: 128,
      cap: 128,
      bt: 32,
    },
    {
      name: 'k4v1 g32/g64, GQA 2',
      k: u(4, 'channel', 32),
      v: u(1, 'token', 64),
      D: 128,
      Hq: 4,
      Hkv: 2,
      B: 2,
      N: 160,
      cap: 160,
      bt: 32,
    },
    {
      name: 'k2v4 D=64, GQA 3',
      k: u(2, 'channel', 32),
      v: u(4, 'token', 32),
      D: 64,
      Hq: 6,
      Hkv: 2,
      B: 3,
      N: 96,
      cap: 96,
      bt: 32,
    },
    {
      name: 'kivi-2, values x0.001',
      k: u(2, 'channel', 128),
      v: u(2, 'token', 128),
      D: 128,
      Hq: 32,
      Hkv: 8,
      B: 1,
      N: 256,
      cap: 256,
      bt: 128,
      vScale: 0.001,
    },
    {
      name: 'kivi-2, values x300',
      k: u(2, 'channel', 128),
      v: u(2, 'token', 128),
      D: 128,
      Hq: 32,
      Hkv: 8,
      B: 1,
      N: 256,
      cap: 256,
      bt: 128,
      vScale: 300,
    },
    {
      name: 'kivi-2 4096 tokens, 3 tiles/chunk',
      k: u(2, 'channel', 128),
      v: u(2, 'token', 128),
      D: 128,
      Hq: 32,
      Hkv: 8,
      B: 1,
      N: 4000,
      cap: 4096,
      bt: 128,
      tiles: 3,
    },
    {
      name: 'kivi-2 4096 tokens, 3 tiles/chunk, no prefetch',
      k: u(2, 'channel', 128),
      v: u(2, 'token', 128),
      D: 128,
      Hq: 32,
      Hkv: 8,
      B: 1,
      N: 4000,
      cap: 4096,
      bt: 128,
      tiles: 3,
      prefetch: false,
    },
  ];
  if (ctx.features.i8Matrices.length === 0) {
    results.checks.push({
      check: 'mma decode attention',
      skipped: 'device has no i8 subgroup matrices',
      ok: true,
    });
    return;
  }
  for (const c of cases) {
    const C = c.Hkv * c.D;
    const kv = encodeKvBlocks(
      c.k,
      c.v,
      { batch: c.B, blocks: c.cap / c.bt, blockTokens: c.bt, kvHeads: c.Hkv, headDim: c.D },
      () => ({ k: rng.normalArray(c.bt * C, 0.3, 1.5), v: rng.normalArray(c.bt * C, 0, c.vScale ?? 1) }),
    );
    const q = rng.normalArray(c.B * c.Hq * c.D);
    const ts = { batch: c.B, tokens: c.cap, kvHeads: c.Hkv, headDim: c.D, blockTokens: c.bt };
    using scope = new BufferScope(ctx);
    using kt = GpuKvTensor.fromBlocks(ctx, c.k, ts, kv.keys);
    using vt = GpuKvTensor.fromBlocks(ctx, c.v, ts, kv.values);
    let err = Number.POSITIVE_INFINITY;
    let note = '';
    // disposed by hand: the bundle lowers `using` in a loop to function-scoped error flags, so one
    // case's exception would be rethrown by every later case's disposal
    let attn: DecodeAttention | null = null;
    try {
      attn = new DecodeAttention(
        ctx,
        { batch: c.B, tokens: c.N, queryHeads: c.Hq, kvHeads: c.Hkv, headDim: c.D },
        kt.tileFormat(),
        vt.tileFormat(),
        {
          kernel: 'mma',
          ...(c.tiles ? { tilesPerChunk: c.tiles } : {}),
          ...(c.prefetch !== undefined ? { tuning: { prefetch: c.prefetch } } : {}),
        },
      );
      const got = await runDecodeAttention(ctx, scope, attn, q, kt, vt, 'check mma attention');
      err = worstSequenceError(got, decodeReferences(q, kv, attn.shape), relErr);
      note = `${attn.nChunks} chunks`;
    } catch (e) {
      note = (e as Error).message;
    } finally {
      attn?.dispose();
    }
    results.checks.push({
      check: 'mma decode attention vs fp64',
      case: c.name,
      relErr: err,
      note,
      tolerance: attnTolerance('mma'),
      ok: err < attnTolerance('mma'),
    });
    log(`mma check ${c.name}: relErr ${err.toExponential(2)} ${note}`);
  }
}

async function checks(ctx: GpuContext): Promise<void> {
  const backend = await createWebGpuBackend({ context: ctx });
  const rng = new SeededRandom(42);
  // 1. encode/decode vs CPU reference
  const specs: QuantizerSpec[] = [
    F16,
    { kind: 'bf16' },
    FP8,
    ...[1, 2, 3, 4, 8].flatMap((b) => [u(b, 'channel', 32), u(b, 'token', 64)]),
  ];
  const shape = { tokens: 64, kvHeads: 8, headDim: 128 };
  for (const spec of specs) {
    const data = rng.normalArray(64 * 1024, 0.1, 2);
    const q = createQuantizer(spec);
    const cpu = q.encode(data, shape);
    const gpu = await backend.encode(spec, data, shape);
    let diffBytes = 0;
    for (let i = 0; i < cpu.bytes.length; i++) if (cpu.bytes[i] !== gpu.bytes[i]) diffBytes++;
    const dec = await backend.decode(spec, cpu);
    const err = relErr(dec, q.decode(cpu));
    const ok = err <= 1e-6 && diffBytes <= Math.max(1, cpu.bytes.length * 0.001);
    results.checks.push({
      check: 'encode/decode vs CPU',
      spec,
      bytes: cpu.bytes.length,
      diffBytes,
      decodeRelErr: err,
      ok,
    });
  }
  // 2. fused decode attention vs fp64 reference on the CPU-decoded cache
  const Hq = 32;
  const Hkv = 8;
  const D = 128;
  const B = 2;
  const N = 256;
  const C = Hkv * D;
  for (const m of METHODS) {
    if (m.kernel === 'mma') continue; // mmaChecks
    if (m.f16 && !ctx.features.shaderF16) continue;
    // `unrolled`: the configuration the large shapes get by default (1 token/thread, values unrolled);
    // `groups`: the subgroup kernel with 4 value token groups, codes cut by %, key rows loaded a tile ahead
    // (and, for aqua-2.5's 10-word key rows, sgKpair; with f16, kflush 8)
    for (const [noSubgroups, unrolled, groups] of [
      [false, false, false],
      [true, false, false],
      [false, true, false],
      [false, false, true],
    ] as const) {
      if (groups && m.kernel !== 'subgroup') continue;
      // the subgroup kernel over uniform K/V: 2 value token groups (one half-word of 2-bit values per
      // invocation) in batches of 4; its 1-token row below: 8 groups (2 code words), key flushes of 8
      const uniformSg = m.kernel === 'subgroup' && m.k.kind === 'uniform';
      const groupTuning = uniformSg
        ? { sgVgroups: 2, sgVbatch: 4 }
        : {
            sgVgroups: 4,
            modIndex: true,
            sgKprefetch: true,
            ...(m.name.startsWith('aqua-2.5') ? { sgKpair: true } : {}),
            // f16: key partial sums flushed every 8 pairs
            ...(m.f16 ? { kflush: 8 } : {}),
          };
      if (unrolled && (m.kernel === 'lane' || m.name === 'fp16' || m.name === 'fp8')) continue;
      // the subgroup kernel needs subgroups; its `unrolled` row is its 1-token-per-thread build
      if (noSubgroups && m.kernel === 'subgroup') continue;
      const kv = encodeKvBlocks(
        m.k,
        m.v,
        { batch: B, blocks: 1, blockTokens: N, kvHeads: Hkv, headDim: D },
        () => ({
          k: rng.normalArray(N * C, 0.3, 1.5),
          v: rng.normalArray(N * C),
        }),
      );
      const q = rng.normalArray(B * Hq * D);
      const ts = { batch: B, tokens: N, kvHeads: Hkv, headDim: D, blockTokens: N };
      using scope = new BufferScope(ctx);
      using kt = GpuKvTensor.fromBlocks(ctx, m.k, ts, kv.keys);
      using vt = GpuKvTensor.fromBlocks(ctx, m.v, ts, kv.values);
      using attn = new DecodeAttention(
        ctx,
        { batch: B, tokens: N, queryHeads: Hq, kvHeads: Hkv, headDim: D },
        kt.tileFormat(),
        vt.tileFormat(),
        {
          noSubgroups,
          ...(m.kernel ? { kernel: m.kernel } : unrolled ? { kernel: 'token' as const } : {}),
          // the subgroup kernel's `unrolled` row: 1 token per invocation and cooperative value loads
          ...(unrolled
            ? {
                tokensPerThread: 1,
                tuning: {
                  vunroll: true,
                  ...(m.kernel === 'subgroup' && !uniformSg ? { sgVcoop: true } : {}),
                  ...(uniformSg ? { sgVgroups: 8, kflush: 8 } : {}),
                },
              }
            : {}),
          ...(groups ? { tuning: groupTuning } : {}),
          arithmetic: m.f16 ? ('f16' as const) : ('f32' as const),
        },
      );
      const got = await runDecodeAttention(ctx, scope, attn, q, kt, vt, 'check attention');
      const refs = decodeReferences(q, kv, attn.shape);
      // f16: relative to the output's largest value without the floor of 1
      const err = worstSequenceError(got, refs, m.f16 ? relMaxErr : relErr);
      const tol = attnTolerance(m.f16 ? 'f16' : attn.kernel);
      results.checks.push({
        check: 'fused decode attention vs fp64',
        method: m.name,
        kernel: attn.kernel,
        arithmetic: attn.arithmetic,
        subgroups: attn.subgroups,
        tokensPerThread: attn.tokensPerThread,
        unrolled,
        ...(groups ? { tuning: groupTuning } : {}),
        relErr: err,
        tolerance: tol,
        ok: err < tol,
      });
    }
  }
  await mmaChecks(ctx, rng);
  // 3. Backend.attention (general path) with an encoded and a dense segment, GQA, 3 query tokens
  {
    const Nn = 40;
    const kspec = u(2, 'channel', 16);
    const vspec = u(2, 'token', 64);
    const K1 = rng.normalArray(32 * C);
    const V1 = rng.normalArray(32 * C);
    const K2 = rng.normalArray(8 * C);
    const V2 = rng.normalArray(8 * C);
    const s1 = { tokens: 32, kvHeads: Hkv, headDim: D };
    const kq = createQuantizer(kspec);
    const vq = createQuantizer(vspec);
    const kb = kq.encode(K1, s1);
    const vb = vq.encode(V1, s1);
    const K = new Float32Array(Nn * C);
    K.set(kq.decode(kb));
    K.set(K2, 32 * C);
    const V = new Float32Array(Nn * C);
    V.set(vq.decode(vb));
    V.set(V2, 32 * C);
    const qT = 3;
    const query = rng.normalArray(qT * Hq * D);
    const got = await backend.attention({
      query,
      qTokens: qT,
      queryHeads: Hq,
      kvHeads: Hkv,
      headDim: D,
      qStart: Nn - qT,
      segments: [
        { kind: 'encoded', tokens: 32, keySpec: kspec, valueSpec: vspec, keys: kb, values: vb },
        { kind: 'dense', tokens: 8, keys: K2, values: V2 },
      ],
    });
    // causal: query token t sees tokens 0 … Nn − qT + t
    const ref = refAttention(query, qT, Hq, Hkv, D, Nn - qT, K, V, Nn);
    let err = 0;
    for (let t = 0; t < qT; t++)
      err = Math.max(
        err,
        relErr(got.subarray(t * Hq * D, (t + 1) * Hq * D), ref.subarray(t * Hq * D, (t + 1) * Hq * D)),
      );
    results.checks.push({ check: 'Backend.attention (segments) vs fp64', relErr: err, ok: err < 1e-4 });
  }
  backend.dispose(); // does not dispose the shared context
}

function gen(
  rec: Recorder,
  x: import('../src/index.js').GpuBuffer,
  n: number,
  C: number,
  seed: number,
  std: number,
): void {
  rec.dispatch('bench-gen', genWgsl, [n, seed, C, { f32: std }], [x], grid(rec.ctx, Math.ceil(n / 256)));
}

async function copyCeiling(ctx: GpuContext): Promise<number> {
  const cap = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
  const bytes = Math.min(quick ? 64 << 20 : 1 << 30, Math.floor(cap / 16) * 16);
  using scope = new BufferScope(ctx);
  const a = scope.create(bytes, 'copy src');
  const b = scope.create(bytes, 'copy dst');
  {
    const rec = new Recorder(ctx);
    gen(rec, a, bytes / 4, 1024, 1, 1);
    rec.submit();
  }
  const t1 = await timeRecorded(ctx, (rec) => rec.copy(a, b, bytes));
  const t2 = await timeRecorded(ctx, (rec) =>
    rec.dispatch('bench-copy', copyWgsl, [bytes / 16], [a, b], grid(ctx, Math.ceil(bytes / 16 / 256))),
  );
  const bw1 = (2 * bytes) / (t1.ms * 1e6);
  const bw2 = (2 * bytes) / (t2.ms * 1e6);
  results.copy.push({ how: 'copyBufferToBuffer', bytes, ms: t1.ms, GBps: bw1, reps: t1.reps });
  results.copy.push({ how: 'compute vec4<u32> copy', bytes, ms: t2.ms, GBps: bw2, reps: t2.reps });
  return Math.max(bw1, bw2);
}

async function codec(ctx: GpuContext, ceiling: number): Promise<void> {
  const T = quick ? 1024 : 32768;
  const C = 1024;
  const shape = { tokens: T, kvHeads: 8, headDim: 128 };
  const specs: [string, QuantizerSpec][] = [
    ['fp16', F16],
    ['fp8', FP8],
    ['uniform2 channel g128 (kivi K)', u(2, 'channel', 128)],
    ['uniform2 token g128 (kivi V)', u(2, 'token', 128)],
    ['uniform4 channel g128', u(4, 'channel', 128)],
  ];
  for (const [name, spec] of specs) {
    using scope = new BufferScope(ctx);
    const n = T * C;
    const x = scope.create(n * 4, 'codec x');
    const encBytes = createQuantizer(spec).encodedBytes(shape);
    const enc = scope.create(encBytes, 'codec enc');
    const y = scope.create(n * 4, 'codec y');
    const status = scope.upload(new Uint32Array(1));
    {
      const rec = new Recorder(ctx);
      gen(rec, x, n, C, 3, 1);
      rec.submit();
    }
    const te = await timeRecorded(ctx, (rec) => recordEncode(rec, scope, spec, shape, x, enc, status));
    const td = await timeRecorded(ctx, (rec) => recordDecode(rec, scope, spec, shape, enc, y, status));
    const eb = n * 4 + encBytes;
    results.codec.push({
      spec: name,
      tokens: T,
      channels: C,
      encodeMs: te.ms,
      encodeGBps: eb / (te.ms * 1e6),
      encodeFracOfCopy: eb / (te.ms * 1e6) / ceiling,
      decodeMs: td.ms,
      decodeGBps: eb / (td.ms * 1e6),
      decodeFracOfCopy: eb / (td.ms * 1e6) / ceiling,
      bytesMovedMin: eb,
    });
    log(`codec ${name}: encode ${te.ms.toFixed(3)} ms, decode ${td.ms.toFixed(3)} ms`);
  }
}

async function attention(ctx: GpuContext, ceiling: number): Promise<void> {
  const Hq = 32;
  const Hkv = 8;
  const D = 128;
  const C = Hkv * D;
  const shapes = quick
    ? [
        { N: 1024, B: 1 },
        { N: 2048, B: 2 },
      ]
    : (benchShapes() ?? [
        { N: 4096, B: 1 },
        { N: 4096, B: 16 },
        { N: 32768, B: 1 },
        { N: 32768, B: 16 },
      ]);
  // KVQ_BENCH_ROUNDS=2: every shape's rows timed again after all shapes (an A/B repeated in one call)
  const rounds = Number(process.env.KVQ_BENCH_ROUNDS ?? '1');
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`KVQ_BENCH_ROUNDS: ${process.env.KVQ_BENCH_ROUNDS}`);
  for (const { N, B } of Array.from({ length: rounds }, () => shapes).flat()) {
    let fp16Ms = 0;
    for (const m of METHODS.filter((x) => !methodFilter || methodFilter.includes(x.name))) {
      if (m.kernel === 'mma' && ctx.features.i8Matrices.length === 0) continue;
      if (m.f16 && !ctx.features.shaderF16) continue;
      using scope = new BufferScope(ctx);
      const ts = { batch: B, tokens: N, kvHeads: Hkv, headDim: D, blockTokens: N };
      const kt0 = new GpuKvTensor(ctx, m.k, ts, 'bench K');
      const vt0 = new GpuKvTensor(ctx, m.v, ts, 'bench V');
      const tensors = [kt0, vt0];
      try {
        // fill: generate fp32 per sequence on the GPU, encode, copy into place
        const x = scope.create(N * C * 4, 'bench gen');
        const status = scope.upload(new Uint32Array(1));
        for (const [t, spec, std] of [
          [kt0, m.k, 1.5],
          [vt0, m.v, 1],
        ] as const) {
          const enc = scope.create(t.blockBytes, 'bench enc');
          for (let b = 0; b < B; b++) {
            const rec = new Recorder(ctx);
            gen(rec, x, N * C, C, 100 + b + (t === kt0 ? 0 : 50), std);
            recordEncode(rec, scope, spec, { tokens: N, kvHeads: Hkv, headDim: D }, x, enc, status);
            rec.copy(enc, t.buffer, t.blockBytes, 0, t.blockOffset(b, 0));
            rec.submit();
          }
          await ctx.device.queue.onSubmittedWorkDone();
        }
        const kvBytes = kt0.buffer.size + vt0.buffer.size;
        // copies so that the timed loop does not run out of L2 (H100: 50 MB)
        const copies = Math.min(32, Math.max(1, Math.ceil((256 << 20) / kvBytes)));
        const ks = [kt0];
        const vs = [vt0];
        for (let i = 1; i < copies; i++) {
          const k = new GpuKvTensor(ctx, m.k, ts, 'bench K copy');
          const v = new GpuKvTensor(ctx, m.v, ts, 'bench V copy');
          tensors.push(k, v);
          const rec = new Recorder(ctx);
          rec.copy(kt0.buffer, k.buffer, kt0.buffer.size);
          rec.copy(vt0.buffer, v.buffer, vt0.buffer.size);
          rec.submit();
          ks.push(k);
          vs.push(v);
        }
        const q = scope.upload(new SeededRandom(9).normalArray(B * Hq * D));
        const out = scope.create(B * Hq * D * 4);
        // token-parallel variants: tokens per thread 1/2 (kivi-2, aqua-2.5), and without subgroups
        const variants: (Omit<BenchVariant, 'tune'> & {
          mma?: { probe?: number; tiles?: number; prefetch?: boolean };
          tune?: DecodeAttentionOptions['tuning'];
        })[] =
          m.name === 'fp16' || m.name === 'kivi-2' || m.name === 'kivi-2 lane'
            ? [{ noSubgroups: false }, { noSubgroups: true }]
            : [{ noSubgroups: false }];
        // the other key-phase width than the default (DecodeAttention: 1 from B·Hkv·N ≥ 2^19)
        if (m.name === 'kivi-2' || m.name === 'aqua-2.5')
          variants.push({ noSubgroups: false, tpt: B * Hkv * N >= 1 << 19 ? 2 : 1 });
        // KVQ_MMA_VARIANTS=p1,t8,nf,…: probes (p), tiles per chunk (t), no prefetch (nf) of the int8 subgroup-matrix kernel
        if (m.name === 'kivi-2 mma' && ctx.features.i8Matrices.length > 0)
          for (const v of (process.env.KVQ_MMA_VARIANTS ?? '').split(',').filter(Boolean))
            variants.push({
              noSubgroups: false,
              mma: v.startsWith('p')
                ? { probe: Number(v.slice(1)) }
                : v === 'nf'
                  ? { prefetch: false }
                  : { tiles: Number(v.slice(1)) },
            });
        // KVQ_F16_VARIANTS=k8,b4,t1+c8,… on the f16 rows, KVQ_SG_VARIANTS on the subgroup-kernel rows
        // (letters: parseVariant in bench/methods.ts)
        const extra =
          m.kernel === 'subgroup' ? process.env.KVQ_SG_VARIANTS : m.f16 ? process.env.KVQ_F16_VARIANTS : '';
        for (const v of (extra ?? '').split(',').filter(Boolean)) variants.push(parseVariant(v, m.kernel));
        // KVQ_SG_TPT1=0 leaves out the subgroup kernel's one-token-per-invocation row
        if (m.kernel === 'subgroup' && process.env.KVQ_SG_TPT1 !== '0')
          variants.push({ noSubgroups: false, tpt: 1 });
        for (const variant of variants) {
          const { noSubgroups, tpt, mma, tune, tiles, optional } = variant;
          // a variant named in the environment that this method or device cannot run is logged and left out
          const make = () =>
            new DecodeAttention(
              ctx,
              { batch: B, tokens: N, queryHeads: Hq, kvHeads: Hkv, headDim: D },
              kt0.tileFormat(),
              vt0.tileFormat(),
              {
                ...variantOptions(m, variant),
                // int8 subgroup-matrix variants carry no tune or tiles of their own
                ...(mma?.probe || mma?.prefetch !== undefined
                  ? { kernel: 'mma' as const, tuning: { probe: mma.probe, prefetch: mma.prefetch } }
                  : {}),
                ...(mma?.tiles ? { kernel: 'mma' as const, tilesPerChunk: mma.tiles } : {}),
              },
            );
          let made: DecodeAttention;
          try {
            made = make();
          } catch (e) {
            if (!optional || !(e instanceof UnsupportedOpError || e instanceof InvalidArgumentError)) throw e;
            log(`attention ${m.name} ${JSON.stringify({ ...tune, tpt, tiles })}: left out (${e.message})`);
            continue;
          }
          using attn = made;
          if (noSubgroups && !ctx.features.subgroups) continue;
          const t = await ctx.scoped('bench attention', () =>
            timeRecorded(ctx, (rec, i) => attn.record(rec, q, ks[i % copies]!, vs[i % copies]!, out)),
          );
          const gbps = kvBytes / (t.ms * 1e6);
          if (m.name === 'fp16' && !noSubgroups) fp16Ms = t.ms;
          results.attention.push({
            method: mma
              ? `${m.name} ${JSON.stringify(mma)}`
              : tune || tiles
                ? `${m.name} ${JSON.stringify({ ...tune, ...(tiles ? { tiles } : {}) })}`
                : m.name,
            kernel: attn.kernel,
            arithmetic: attn.arithmetic,
            tokensPerThread:
              attn.kernel === 'token' || attn.kernel === 'subgroup' ? attn.tokensPerThread : null,
            tilesPerChunk: attn.tilesPerChunk,
            keySpec: m.k,
            valueSpec: m.v,
            batch: B,
            tokens: N,
            subgroups: attn.subgroups,
            span: attn.span,
            chunks: attn.nChunks,
            ms: t.ms,
            kvBytes,
            bitsPerValue: (kvBytes * 8) / (2 * B * N * C),
            effGBps: gbps,
            fracOfCopy: gbps / ceiling,
            speedupVsFp16: fp16Ms > 0 ? fp16Ms / t.ms : null,
            copies,
            reps: t.reps,
          });
          log(
            `attention ${m.name}${mma ? ` ${JSON.stringify(mma)}` : ''}${tune || tiles ? ` ${JSON.stringify({ ...tune, ...(tiles ? { tiles } : {}) })}` : ''} [${attn.kernel}${tpt ? ` tpt ${tpt}` : ''}] B=${B} N=${N}${noSubgroups ? ' (no subgroups)' : ''}: ${t.ms.toFixed(4)} ms, ${gbps.toFixed(0)} GB/s`,
          );
        }
      } finally {
        for (const t of tensors) t.dispose();
      }
    }
  }
}

/** KVQ_BENCH_SHAPES="16x32768,1x4096" (batch × tokens) picks the attention shapes; null: the default four. */
function benchShapes(): { N: number; B: number }[] | null {
  const env = process.env.KVQ_BENCH_SHAPES;
  if (!env) return null;
  return env.split(',').map((x) => {
    const m = /^(\d+)x(\d+)$/.exec(x.trim());
    if (!m) throw new Error(`KVQ_BENCH_SHAPES: ${JSON.stringify(x)} is not <batch>x<tokens>`);
    return { B: Number(m[1]), N: Number(m[2]) };
  });
}

/** Tuning sweep: tokens per iteration and span for fp16 and kivi-2 at a few shapes. */
async function sweep(ctx: GpuContext, ceiling: number): Promise<void> {
  const Hq = 32;
  const Hkv = 8;
  const D = 128;
  const C = Hkv * D;
  const shapes = quick
    ? [{ N: 1024, B: 2 }]
    : [
        { N: 32768, B: 16 },
        { N: 32768, B: 1 },
      ];
  for (const { N, B } of shapes) {
    for (const m of METHODS.filter((x) => x.name === 'fp16' || x.name === 'kivi-2' || x.name === 'k4v2')) {
      using scope = new BufferScope(ctx);
      const ts = { batch: B, tokens: N, kvHeads: Hkv, headDim: D, blockTokens: N };
      using kt = new GpuKvTensor(ctx, m.k, ts, 'sweep K');
      using vt = new GpuKvTensor(ctx, m.v, ts, 'sweep V');
      const x = scope.create(N * C * 4);
      const status = scope.upload(new Uint32Array(1));
      for (const [t, spec] of [
        [kt, m.k],
        [vt, m.v],
      ] as const) {
        const enc = scope.create(t.blockBytes);
        for (let b = 0; b < B; b++) {
          const rec = new Recorder(ctx);
          gen(rec, x, N * C, C, 7 + b, 1);
          recordEncode(rec, scope, spec, { tokens: N, kvHeads: Hkv, headDim: D }, x, enc, status);
          rec.copy(enc, t.buffer, t.blockBytes, 0, t.blockOffset(b, 0));
          rec.submit();
        }
      }
      const kvBytes = kt.buffer.size + vt.buffer.size;
      const q = scope.upload(new SeededRandom(9).normalArray(B * Hq * D));
      const out = scope.create(B * Hq * D * 4);
      const variants: { tpi: number; span?: number }[] =
        m.name === 'fp16'
          ? [
              { tpi: 8, span: 64 },
              { tpi: 8, span: 128 },
            ]
          : [
              { tpi: 2, span: 64 },
              { tpi: 4, span: 64 },
              { tpi: 2, span: 128 },
              { tpi: 4, span: 128 },
            ];
      for (const v of variants) {
        using attn = new DecodeAttention(
          ctx,
          { batch: B, tokens: N, queryHeads: Hq, kvHeads: Hkv, headDim: D },
          kt.tileFormat(),
          vt.tileFormat(),
          {
            tokensPerIter: v.tpi,
            span: v.span,
          },
        );
        const t = await ctx.scoped('sweep', () =>
          timeRecorded(ctx, (rec) => attn.record(rec, q, kt, vt, out), { trials: 3 }),
        );
        const gbps = kvBytes / (t.ms * 1e6);
        results.sweep.push({
          method: m.name,
          batch: B,
          tokens: N,
          tpi: v.tpi,
          span: attn.span,
          chunks: attn.nChunks,
          ms: t.ms,
          GBps: gbps,
          fracOfCopy: gbps / ceiling,
          note: 'no copy rotation (sizes > L2 except noted)',
        });
        log(
          `sweep ${m.name} B=${B} N=${N} tpi=${v.tpi} span=${attn.span}: ${t.ms.toFixed(4)} ms ${gbps.toFixed(0)} GB/s ${((gbps / ceiling) * 100).toFixed(0)}%`,
        );
      }
    }
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const dawnFlags = (process.env.KVQ_DAWN_FLAGS ?? '').split(';').filter(Boolean);
  // int8 subgroup matrices (Dawn's experimental feature) unless KVQ_SUBGROUP_MATRIX=0
  const subgroupMatrix = process.env.KVQ_SUBGROUP_MATRIX !== '0';
  // shader-f16 on NVIDIA through Dawn's Vulkan backend unless KVQ_NVIDIA_F16=0
  const nvidiaShaderF16 = process.env.KVQ_NVIDIA_F16 !== '0';
  const ctx = await createGpuContext({
    powerPreference: 'high-performance',
    dawnFlags,
    subgroupMatrix,
    nvidiaShaderF16,
  });
  const info = ctx.adapterInfo;
  results.info = {
    date: new Date().toISOString(),
    vendor: info?.vendor,
    architecture: info?.architecture,
    device: info?.device,
    description: info?.description,
    features: ctx.features,
    limits: ctx.limits,
    subgroupMinSize: (info as { subgroupMinSize?: number } | null)?.subgroupMinSize,
    subgroupSizes: ctx.features.subgroupSizes,
    i8Matrices: ctx.features.i8Matrices,
    node: process.version,
    dawnFlags,
    quick,
  };
  log('adapter', JSON.stringify(results.info));
  const uncaptured: string[] = [];
  ctx.device.addEventListener('uncapturederror', (e) => {
    uncaptured.push((e as GPUUncapturedErrorEvent).error.message);
  });
  await checks(ctx);
  const failed = results.checks.filter((c) => !c.ok);
  log(`checks: ${results.checks.length - failed.length}/${results.checks.length} pass`);
  for (const f of failed) log('FAILED', JSON.stringify(f));
  const first = await copyCeiling(ctx);
  log(`copy ceiling ${first.toFixed(0)} GB/s (start)`);
  if (args.includes('--sweep')) await sweep(ctx, first);
  if (!args.includes('--sweep-only')) {
    if (!args.includes('--no-codec')) await codec(ctx, first);
    await attention(ctx, first);
  }
  // the ceiling again at the end (a GPU fresh from idle measured 30% low once); fractions use the max
  const ceiling = Math.max(first, await copyCeiling(ctx));
  log(`copy ceiling ${ceiling.toFixed(0)} GB/s (max of start and end)`);
  results.info.copyCeilingGBps = ceiling;
  for (const c of results.codec) {
    c.encodeFracOfCopy = (c.encodeGBps as number) / ceiling;
    c.decodeFracOfCopy = (c.decodeGBps as number) / ceiling;
  }
  for (const a of results.attention) a.fracOfCopy = (a.effGBps as number) / ceiling;
  for (const w of results.sweep) w.fracOfCopy = (w.GBps as number) / ceiling;
  results.info.seconds = (performance.now() - t0) / 1000;
  results.info.uncapturedErrors = uncaptured;
  if (uncaptured.length)
    log(
      `UNCAPTURED WebGPU ERRORS (${uncaptured.length}): results above are not valid\n${uncaptured.slice(0, 3).join('\n')}`,
    );
  writeFileSync(outPath, JSON.stringify(results, null, 2));
  // table last
  log(`\n${info?.description || info?.device || info?.vendor} — ${results.info.date}`);
  log(
    `checks ${results.checks.length - failed.length}/${results.checks.length} pass; copy ceiling ${ceiling.toFixed(0)} GB/s`,
  );
  log('codec (32k×1024 block)            | enc ms | enc %copy | dec ms | dec %copy');
  for (const c of results.codec) {
    log(
      `${String(c.spec).padEnd(33)} | ${(c.encodeMs as number).toFixed(3).padStart(6)} | ${((c.encodeFracOfCopy as number) * 100).toFixed(0).padStart(8)}% | ${(c.decodeMs as number).toFixed(3).padStart(6)} | ${((c.decodeFracOfCopy as number) * 100).toFixed(0).padStart(8)}%`,
    );
  }
  log('attention        | kernel  | B  | N     | sg | b/v  | ms      | GB/s  | %copy | x fp16');
  for (const a of results.attention) {
    log(
      `${String(a.method).padEnd(16)} | ${`${a.kernel}${a.kernel === 'token' ? a.tokensPerThread : ''}`.padEnd(7)} | ${String(a.batch).padStart(2)} | ${String(a.tokens).padStart(5)} | ${a.subgroups ? 'y' : 'n'}  | ${(a.bitsPerValue as number).toFixed(2)} | ${(a.ms as number).toFixed(4).padStart(7)} | ${(a.effGBps as number).toFixed(0).padStart(5)} | ${((a.fracOfCopy as number) * 100).toFixed(0).padStart(4)}% | ${a.speedupVsFp16 === null ? '  -' : (a.speedupVsFp16 as number).toFixed(2)}`,
    );
  }
  ctx.dispose();
}

main().then(
  () => setTimeout(() => process.exit(0), 100),
  (err) => {
    console.error(err);
    writeFileSync(outPath, JSON.stringify({ ...results, error: String(err?.stack ?? err) }, null, 2));
    process.exit(1);
  },
);
