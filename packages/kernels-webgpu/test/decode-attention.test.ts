import { type QuantizerSpec, SeededRandom } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { BufferScope, DecodeAttention, type DecodeAttentionOptions, GpuKvTensor } from '../src/index.js';
import { decodeReferences, encodeKvBlocks, worstSequenceError } from './attention-reference.js';
import { runDecodeAttention } from './decode-attention-run.js';
import { probe, relErr, relMaxErr, sharedBackend, title } from './gpu.js';

const p = await probe();

const F16: QuantizerSpec = { kind: 'fp16' };
const FP8: QuantizerSpec = { kind: 'fp8', format: 'e4m3' };
const u = (bits: number, axis: 'channel' | 'token', groupSize: number): QuantizerSpec => ({
  kind: 'uniform',
  bits,
  axis,
  groupSize,
});

/** Small shapes: software Vulkan compiles each unrolled kernel with LLVM, and larger ones take minutes. */
const higgs = (bits: number, dim: 1 | 2, block: number, seed: number, scaleGain?: number): QuantizerSpec => ({
  kind: 'higgs',
  bits,
  dim,
  block,
  seed,
  ...(scaleGain !== undefined ? { scaleGain } : {}),
});

const CASES: {
  name: string;
  k: QuantizerSpec;
  v: QuantizerSpec;
  D: number;
  Hq: number;
  Hkv: number;
  B: number;
  N: number;
  bt: number;
  span?: number;
  tpi: number;
  noSubgroups?: boolean;
  /** which kernel must run (the default choice is checked) */
  kernel: 'token' | 'lane' | 'subgroup';
  /** force this kernel (else the default choice) */
  force?: boolean;
  tpt?: number;
  tiles?: number;
  tuning?: DecodeAttentionOptions['tuning'];
  /** why this case is left out on software adapters (unless KVQ_WEBGPU_ALL_CASES=1) */
  slowOnSoftware?: string;
  /** packed-f16 arithmetic (needs shader-f16; the sides it must apply to) */
  f16?: { keys: 'f16' | 'f32'; values: 'f16' | 'f32' };
  /** keys and values are drawn ×kScale / ×vScale */
  kScale?: number;
  vScale?: number;
}[] = [
  { name: 'fp16', k: F16, v: F16, D: 64, Hq: 4, Hkv: 2, B: 2, N: 96, bt: 32, tpi: 2, kernel: 'lane' },
  {
    name: 'fp16, Llama-3 head dim 128, GQA 4',
    k: F16,
    v: F16,
    D: 128,
    Hq: 8,
    Hkv: 2,
    B: 1,
    N: 64,
    bt: 64,
    tpi: 1,
    kernel: 'lane',
  },
  { name: 'fp8', k: FP8, v: FP8, D: 64, Hq: 2, Hkv: 1, B: 1, N: 80, bt: 16, tpi: 1, kernel: 'lane' },
  {
    name: 'kivi-2 (k2 channel g32, v2 token g32)',
    k: u(2, 'channel', 32),
    v: u(2, 'token', 32),
    D: 64,
    Hq: 4,
    Hkv: 2,
    B: 2,
    N: 128,
    bt: 64,
    span: 4,
    tpi: 2,
    kernel: 'token',
  },
  {
    name: 'kivi-2 (lane kernel)',
    k: u(2, 'channel', 32),
    v: u(2, 'token', 32),
    D: 64,
    Hq: 4,
    Hkv: 2,
    B: 2,
    N: 128,
    bt: 64,
    span: 4,
    tpi: 2,
    kernel: 'lane',
    force: true,
  },
  {
    name: 'kivi-2',
    k: u(2, 'channel', 32),
    v: u(2, 'token', 32),
    D: 64,
    Hq: 2,
    Hkv: 2,
    B: 1,
    N: 64,
    bt: 64,
    tpi: 1,
    noSubgroups: true,
    kernel: 'token',
    tpt: 1,
  },
  {
    name: 'k4v2 (k4 channel g16, v2 token g64), GQA 3',
    k: u(4, 'channel', 16),
    v: u(2, 'token', 64),
    D: 64,
    Hq: 6,
    Hkv: 2,
    B: 3,
    N: 64,
    bt: 32,
    tpi: 3,
    kernel: 'token',
  },
  {
    name: 'k3v1, unaligned codes, token groups of 8 < dims per lane',
    k: u(3, 'channel', 8),
    v: u(1, 'token', 8),
    D: 64,
    Hq: 1,
    Hkv: 1,
    B: 1,
    N: 40,
    bt: 8,
    tpi: 1,
    kernel: 'token',
  },
  {
    name: 'k8 + fp16 values, many chunks',
    k: u(8, 'channel', 4),
    v: F16,
    D: 64,
    Hq: 2,
    Hkv: 2,
    B: 1,
    N: 200,
    bt: 4,
    span: 4,
    tpi: 2,
    noSubgroups: true,
    kernel: 'lane',
  },
  {
    name: 'kivi-2 g128, head dim 128, GQA 4, several tiles per chunk',
    k: u(2, 'channel', 128),
    v: u(2, 'token', 128),
    D: 128,
    Hq: 8,
    Hkv: 2,
    B: 2,
    N: 768,
    bt: 256,
    tpi: 1,
    kernel: 'token',
    tiles: 2,
  },
  {
    name: 'kivi-2 g128, head dim 128, GQA 4, values unrolled, 1 token/thread, partial tile',
    slowOnSoftware:
      'values unrolled at 1 token/thread run here in the kivi-2 g64 case, and at head dim 128 in the H100 bench checks (kivi-2, k4v2, k3v2, aqua-2.5, kvq-2)',
    k: u(2, 'channel', 128),
    v: u(2, 'token', 128),
    D: 128,
    Hq: 8,
    Hkv: 2,
    B: 2,
    N: 640,
    bt: 128,
    tpi: 1,
    kernel: 'token',
    tpt: 1,
    tiles: 2,
    tuning: { vunroll: true },
  },
  {
    name: 'kivi-2 g64, GQA 4, values unrolled in batches of 4, lazy max, double-buffered, subgroup bias',
    k: u(2, 'channel', 128),
    v: u(2, 'token', 64),
    D: 64,
    Hq: 4,
    Hkv: 1,
    B: 1,
    N: 640,
    bt: 128,
    tpi: 1,
    kernel: 'token',
    tpt: 1,
    tiles: 3,
    tuning: { vunroll: true, vbatch: 4, lazy: true, dbuf: true },
  },
  {
    name: 'HIGGS K2/V2, GQA 4, values unrolled, lazy max, double-buffered',
    k: higgs(2, 2, 64, 11),
    v: higgs(2, 2, 64, 12),
    D: 64,
    Hq: 4,
    Hkv: 1,
    B: 2,
    N: 320,
    bt: 64,
    tpi: 1,
    kernel: 'token',
    tpt: 2,
    tuning: { vunroll: true, lazy: true, dbuf: true },
    slowOnSoftware:
      'non-default tuning knobs (lazy max, double buffering) on HIGGS; the kivi-2 case above runs them',
  },
  {
    name: 'aqua-2.5 HIGGS (K 2.5-bit 2-D, V 2-bit 2-D, gain), head dim 128, GQA 4, partial tile',
    k: higgs(2.5, 2, 128, 0x6b, 1.05),
    v: higgs(2, 2, 128, 0x76, 1.08),
    D: 128,
    Hq: 8,
    Hkv: 2,
    B: 2,
    N: 352,
    bt: 32,
    tpi: 1,
    kernel: 'token',
  },
  {
    name: 'aqua-2.5 HIGGS, subgroup-private tiles, head dim 128, GQA 4, partial tile, 2 chunks',
    k: higgs(2.5, 2, 128, 0x6b, 1.05),
    v: higgs(2, 2, 128, 0x76, 1.08),
    D: 128,
    Hq: 8,
    Hkv: 2,
    B: 2,
    N: 352,
    bt: 32,
    tpi: 1,
    kernel: 'subgroup',
    force: true,
    tiles: 2,
  },
  {
    name: 'HIGGS K3/V1.5 (codes across words), subgroup-private tiles, 1 token per thread, GQA 3, many chunks',
    k: higgs(3, 2, 64, 5),
    v: higgs(1.5, 2, 64, 6),
    D: 64,
    Hq: 6,
    Hkv: 2,
    B: 1,
    N: 200,
    bt: 8,
    tpi: 1,
    kernel: 'subgroup',
    force: true,
    tpt: 1,
    tiles: 1,
  },
  {
    name: 'HIGGS 4/4 1-D, subgroup-private tiles, GQA 1, values in batches of 2',
    k: higgs(4, 1, 64, 7),
    v: higgs(4, 1, 64, 8),
    D: 64,
    Hq: 2,
    Hkv: 2,
    B: 2,
    N: 64,
    bt: 64,
    tpi: 1,
    kernel: 'subgroup',
    force: true,
    tuning: { sgVbatch: 2 },
  },
  {
    name: 'f16 aqua-2.5 HIGGS, subgroup-private tiles, GQA 3, values ×300, 2 chunks',
    k: higgs(2.5, 2, 128, 0x6b, 1.05),
    v: higgs(2, 2, 128, 0x76, 1.08),
    D: 128,
    Hq: 6,
    Hkv: 2,
    B: 1,
    N: 352,
    bt: 32,
    tpi: 1,
    kernel: 'subgroup',
    force: true,
    tiles: 3,
    f16: { keys: 'f16', values: 'f16' },
    vScale: 300,
  },
  {
    name: 'f16 HIGGS K3/V1.5, subgroup-private tiles, GQA 4, keys ×0.01, 1 token per thread',
    k: higgs(3, 2, 64, 5),
    v: higgs(1.5, 2, 64, 6),
    D: 64,
    Hq: 8,
    Hkv: 2,
    B: 2,
    N: 200,
    bt: 8,
    tpi: 1,
    kernel: 'subgroup',
    force: true,
    tpt: 1,
    f16: { keys: 'f16', values: 'f16' },
    kScale: 0.01,
  },
  {
    name: 'HIGGS K2/V2 (kvq-2 widths), subgroup-private tiles, cooperative value loads, GQA 4, 3 chunks',
    k: higgs(2, 2, 64, 9),
    v: higgs(2, 2, 64, 10),
    D: 64,
    Hq: 8,
    Hkv: 2,
    B: 2,
    N: 320,
    bt: 64,
    tpi: 1,
    kernel: 'subgroup',
    force: true,
    tiles: 1,
    tuning: { sgVcoop: true },
  },
  {
    name: 'HIGGS aqua-2.5 widths (K2.5/V2), subgroup-private tiles, 2 value token groups, codes cut by masks, GQA 4, a partial last tile',
    k: higgs(2.5, 2, 64, 11),
    v: higgs(2, 2, 64, 12),
    D: 64,
    Hq: 8,
    Hkv: 2,
    B: 2,
    N: 288,
    bt: 32,
    tpi: 1,
    kernel: 'subgroup',
    force: true,
    tiles: 1,
    tuning: { sgVgroups: 2, sgVbatch: 2, modIndex: false },
  },
  {
    name: 'HIGGS aqua-2.5 widths, head dim 128, subgroup-private tiles, key rows of 10 words as vec4 (sgKpair), GQA 4',
    k: higgs(2.5, 2, 128, 15),
    v: higgs(2, 2, 128, 16),
    D: 128,
    Hq: 8,
    Hkv: 2,
    B: 1,
    N: 128,
    bt: 64,
    tpi: 1,
    kernel: 'subgroup',
    force: true,
    tiles: 1,
    tpt: 1,
    tuning: { sgKpair: true },
  },
  {
    name: 'HIGGS K2/V2, subgroup-private tiles, f16, 4 value token groups, GQA 4, a partial last tile',
    k: higgs(2, 2, 64, 13),
    v: higgs(2, 2, 64, 14),
    D: 64,
    Hq: 8,
    Hkv: 2,
    B: 1,
    N: 224,
    bt: 32,
    tpi: 1,
    kernel: 'subgroup',
    force: true,
    tiles: 2,
    tuning: { sgVgroups: 4, sgVbatch: 1 },
    f16: { keys: 'f16', values: 'f16' },
  },
  {
    name: 'HIGGS aqua-2.5 widths, subgroup-private tiles, key rows of the next tile (words) loaded ahead, 2 sequences, partial last tile',
    k: higgs(2.5, 2, 64, 17),
    v: higgs(2, 2, 64, 18),
    D: 64,
    Hq: 8,
    Hkv: 2,
    B: 2,
    N: 288,
    bt: 32,
    tpi: 1,
    kernel: 'subgroup',
    force: true,
    tiles: 2,
    tuning: { sgKprefetch: true },
  },
  {
    name: 'HIGGS aqua-2.5 widths, head dim 128, key rows as vec4 (sgKpair) loaded a tile ahead, 3 chunks (the last of 1 tile)',
    k: higgs(2.5, 2, 128, 19),
    v: higgs(2, 2, 128, 20),
    D: 128,
    Hq: 8,
    Hkv: 2,
    B: 1,
    N: 320,
    bt: 64,
    tpi: 1,
    kernel: 'subgroup',
    force: true,
    tiles: 2,
    tuning: { sgKpair: true, sgKprefetch: true },
  },
  {
    name: 'HIGGS K2/V2, subgroup-private tiles, f16, vec4 key rows loaded a tile ahead, GQA 4',
    k: higgs(2, 2, 64, 21),
    v: higgs(2, 2, 64, 22),
    D: 64,
    Hq: 8,
    Hkv: 2,
    B: 1,
    N: 224,
    bt: 32,
    tpi: 1,
    kernel: 'subgroup',
    force: true,
    tiles: 2,
    tuning: { sgKprefetch: true },
    f16: { keys: 'f16', values: 'f16' },
  },
  {
    name: 'HIGGS aqua-2.5 widths, subgroup-private tiles, f16, value accumulators in workgroup memory, key flushes of 8 pairs, 2 sequences, 3 chunks, partial last tile',
    k: higgs(2.5, 2, 64, 23),
    v: higgs(2, 2, 64, 24),
    D: 64,
    Hq: 8,
    Hkv: 2,
    B: 2,
    N: 288,
    bt: 32,
    tpi: 1,
    kernel: 'subgroup',
    force: true,
    tiles: 1,
    tuning: { sgAccShared: true, kflush: 8 },
    f16: { keys: 'f16', values: 'f16' },
  },
  {
    name: 'HIGGS K2/V2, head dim 128, subgroup-private tiles, f16, value accumulators in workgroup memory, 1 token per invocation, 2 chunks',
    k: higgs(2, 2, 128, 25),
    v: higgs(2, 2, 128, 26),
    D: 128,
    Hq: 8,
    Hkv: 2,
    B: 1,
    N: 320,
    bt: 64,
    tpi: 1,
    kernel: 'subgroup',
    force: true,
    tiles: 3,
    tpt: 1,
    tuning: { sgAccShared: true, sgVbatch: 2 },
    f16: { keys: 'f16', values: 'f16' },
  },
  {
    name: 'HIGGS 4/4 1-D (AQUA layer 0), GQA 1',
    k: higgs(4, 1, 64, 7),
    v: higgs(4, 1, 64, 8),
    D: 64,
    Hq: 2,
    Hkv: 2,
    B: 1,
    N: 64,
    bt: 64,
    tpi: 1,
    kernel: 'token',
  },
  {
    name: 'HIGGS kvq-2 widths K1 (1-D) / V1.5 (2-D), GQA 4, codes cut by %, without subgroups',
    k: higgs(1, 1, 64, 3),
    v: higgs(1.5, 2, 64, 4),
    D: 64,
    Hq: 4,
    Hkv: 1,
    B: 2,
    N: 200,
    bt: 8,
    tpi: 1,
    kernel: 'token',
    noSubgroups: true,
    tpt: 1,
    tuning: { modIndex: true },
  },
  {
    name: 'HIGGS K3/V3 2-D and K2/V1.5, mixed: K 3-bit 2-D, V 1.5-bit 2-D, GQA 4, 3 chunks',
    k: higgs(3, 2, 64, 5),
    v: higgs(1.5, 2, 64, 6),
    D: 64,
    Hq: 8,
    Hkv: 2,
    B: 1,
    N: 640,
    bt: 128,
    tpi: 1,
    kernel: 'token',
    tiles: 1,
  },
  {
    name: 'HIGGS K2/V2 2-D (kvq-2 typical), GQA 4',
    slowOnSoftware:
      'kvq-2 K2/V2 is checked against fp64 on the H100 by the WebGPU bench (3 kernel configurations), and the 2-D HIGGS path runs here in the aqua-2.5 and mixed cases',
    k: higgs(2, 2, 64, 9),
    v: higgs(2, 2, 64, 10),
    D: 64,
    Hq: 4,
    Hkv: 1,
    B: 1,
    N: 256,
    bt: 64,
    tpi: 1,
    kernel: 'token',
  },
  {
    name: 'f16 kivi-2 g32, GQA 4, values unrolled, 1 token/thread, partial tile, loads early',
    k: u(2, 'channel', 32),
    v: u(2, 'token', 32),
    D: 64,
    Hq: 8,
    Hkv: 2,
    B: 2,
    N: 192,
    bt: 32,
    tpi: 1,
    kernel: 'token',
    tpt: 1,
    tiles: 1,
    tuning: { vunroll: true, early: true },
    f16: { keys: 'f16', values: 'f16' },
  },
  {
    name: 'f16 k4v2 (k4 channel g128, v2 token g16), GQA 3, 2 tokens/thread, keys ×300, values ×0.001',
    k: u(4, 'channel', 128),
    v: u(2, 'token', 16),
    D: 64,
    Hq: 6,
    Hkv: 2,
    B: 1,
    N: 384,
    bt: 128,
    tpi: 1,
    kernel: 'token',
    tpt: 2,
    tuning: { vunroll: true, kflush: 8 },
    f16: { keys: 'f16', values: 'f16' },
    kScale: 300,
    vScale: 0.001,
  },
  {
    name: 'f16 k1v4 (k1 channel g64, v4 token g64), GQA 4, keys ×0.001, values ×300, without subgroups',
    k: u(1, 'channel', 64),
    v: u(4, 'token', 64),
    D: 64,
    Hq: 4,
    Hkv: 1,
    B: 1,
    N: 256,
    bt: 128,
    tpi: 1,
    kernel: 'token',
    tpt: 1,
    noSubgroups: true,
    tuning: { vunroll: true, kflush: 32 },
    f16: { keys: 'f16', values: 'f16' },
    kScale: 0.001,
    vScale: 300,
  },
  {
    name: 'f16 HIGGS K2 2-D keys, uniform v2 values',
    k: higgs(2, 2, 64, 21),
    v: u(2, 'token', 64),
    D: 64,
    Hq: 4,
    Hkv: 1,
    B: 1,
    N: 128,
    bt: 64,
    tpi: 1,
    kernel: 'token',
    tpt: 1,
    tuning: { vunroll: true },
    f16: { keys: 'f16', values: 'f16' },
  },
  {
    name: 'f16 aqua-2.5 HIGGS (K 2.5-bit 2-D, V 2-bit 2-D, gain), head dim 128, GQA 4, partial tile, loads early',
    k: higgs(2.5, 2, 128, 0x6b, 1.05),
    v: higgs(2, 2, 128, 0x76, 1.08),
    D: 128,
    Hq: 8,
    Hkv: 2,
    B: 1,
    N: 352,
    bt: 32,
    tpi: 1,
    kernel: 'token',
    tpt: 2,
    tuning: { vunroll: true, early: true },
    f16: { keys: 'f16', values: 'f16' },
    slowOnSoftware:
      'the f16 HIGGS path runs here in the K2/V2-uniform and kvq-2-width cases, and aqua-2.5 f16 in the H100 bench checks',
  },
  {
    name: 'f16 HIGGS kvq-2 widths K1 (1-D) / V1.5 (2-D), GQA 3, values ×300, codes cut by %, without subgroups',
    k: higgs(1, 1, 64, 3),
    v: higgs(1.5, 2, 64, 4),
    D: 64,
    Hq: 6,
    Hkv: 2,
    B: 1,
    N: 200,
    bt: 8,
    tpi: 1,
    kernel: 'token',
    noSubgroups: true,
    tpt: 1,
    tuning: { vunroll: true, kflush: 8, modIndex: true },
    f16: { keys: 'f16', values: 'f16' },
    vScale: 300,
  },
];

/**
 * Packed-f16 arithmetic, as max |error| / max |output|: the folded query and the softmax weights are
 * rounded to f16 (2^-11 relative) and partial sums carry 2^-11 of their own magnitude; measured
 * 0.3–1.7 × 10⁻³ on lavapipe for 1/2/4-bit codes at head dim 128 (CUDA's f16 tensor-core kernels are
 * held to 2 × 10⁻³ relative L2).
 */
const F16_TOL = 3e-3;

describe.skipIf(!p.ok)(
  title('fused decode attention over encoded K/V vs fp64 attention on the CPU-decoded cache', p),
  () => {
    CASES.forEach((c) => {
      {
        const tpi = c.tpi;
        const noSubgroups = c.noSubgroups ?? false;
        const slow = p.software && c.slowOnSoftware !== undefined && process.env.KVQ_WEBGPU_ALL_CASES !== '1';
        const noF16 = c.f16 !== undefined && !p.shaderF16;
        const skip = slow || noF16;
        const why = slow
          ? ` (skipped on a software adapter: ${c.slowOnSoftware}; KVQ_WEBGPU_ALL_CASES=1 runs it)`
          : noF16
            ? ' (skipped: the adapter has no shader-f16)'
            : '';
        it.skipIf(skip)(
          `${c.name} [${c.kernel}], B=${c.B} N=${c.N} Hq=${c.Hq} Hkv=${c.Hkv} D=${c.D}, ${tpi} tokens/iter${noSubgroups ? ', without subgroups' : ''}${why}`,
          async () => {
            const b = await sharedBackend();
            const ctx = b.ctx;
            const rng = new SeededRandom(c.N * 7 + c.D);
            const C = c.Hkv * c.D;
            const shape = { batch: c.B, tokens: c.N, kvHeads: c.Hkv, headDim: c.D, blockTokens: c.bt };
            // each sequence's K and V drawn whole, then cut into blocks
            let K = new Float32Array(0);
            let V = new Float32Array(0);
            const kv = encodeKvBlocks(
              c.k,
              c.v,
              { batch: c.B, blocks: c.N / c.bt, blockTokens: c.bt, kvHeads: c.Hkv, headDim: c.D },
              (_s, j) => {
                if (j === 0) {
                  K = rng.normalArray(c.N * C, 0.2, 1.5).map((x) => x * (c.kScale ?? 1));
                  V = rng.normalArray(c.N * C).map((x) => x * (c.vScale ?? 1));
                }
                return {
                  k: K.subarray(j * c.bt * C, (j + 1) * c.bt * C),
                  v: V.subarray(j * c.bt * C, (j + 1) * c.bt * C),
                };
              },
            );
            const q = rng.normalArray(c.B * c.Hq * c.D);
            using scope = new BufferScope(ctx);
            using kt = GpuKvTensor.fromBlocks(ctx, c.k, shape, kv.keys);
            using vt = GpuKvTensor.fromBlocks(ctx, c.v, shape, kv.values);
            using attn = new DecodeAttention(
              ctx,
              { batch: c.B, tokens: c.N, queryHeads: c.Hq, kvHeads: c.Hkv, headDim: c.D },
              kt.tileFormat(),
              vt.tileFormat(),
              {
                span: c.span,
                noSubgroups,
                tokensPerIter: tpi,
                tokensPerThread: c.tpt,
                tilesPerChunk: c.tiles,
                ...(c.tuning ? { tuning: c.tuning } : {}),
                ...(c.force ? { kernel: c.kernel } : {}),
                ...(c.f16 ? { arithmetic: 'f16' as const } : {}),
              },
            );
            expect(attn.kernel).toBe(c.kernel);
            expect(attn.arithmetic).toEqual(c.f16 ?? { keys: 'f32', values: 'f32' });
            if (noSubgroups) expect(attn.subgroups).toBe(false);
            const got = await runDecodeAttention(ctx, scope, attn, q, kt, vt);
            const refs = decodeReferences(q, kv, attn.shape);
            if (c.f16) expect(worstSequenceError(got, refs, relMaxErr)).toBeLessThan(F16_TOL);
            else expect(worstSequenceError(got, refs, relErr)).toBeLessThan(1e-4);
            // a software adapter compiles each fused kernel with LLVM: 10–30 s idle, several times that on a
            // loaded 2-core CI machine
          },
          p.software ? 600_000 : undefined,
        );
      }
    });
  },
);
