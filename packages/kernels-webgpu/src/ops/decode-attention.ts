/**
 * Host side of the fused decode attention: picks the split, owns the partials buffer, records
 * the two dispatches.
 */
import { InvalidArgumentError, UnsupportedOpError } from '@kvq/core';
import { GpuBuffer } from '../buffer.js';
import type { GpuContext } from '../context.js';
import {
  MMA_TILE,
  type MmaAttentionConfig,
  mmaAttentionKey,
  mmaAttentionWgsl,
  mmaColumns,
  mmaLayout,
  mmaUnsupported,
} from '../kernels/decode-attention-mma.wgsl.js';
import {
  type SgAttentionConfig,
  sgAttentionKey,
  sgAttentionWgsl,
  sgFixedSizeUnsupported,
  sgSharedBytes,
  sgTileTokens,
  sgUnsupported,
  sgVcoopUnsupported,
  sgVgroupsUnsupported,
} from '../kernels/decode-attention-sg.wgsl.js';
import {
  type SguAttentionConfig,
  sguAttentionKey,
  sguAttentionWgsl,
  sguSharedBytes,
  sguUnsupported,
  sguValueGroups,
  sguValueGroupsUnsupported,
} from '../kernels/decode-attention-sgu.wgsl.js';
import {
  TP_THREADS,
  type TpAttentionConfig,
  tpAttentionKey,
  tpAttentionWgsl,
  tpAuxData,
  tpAuxLayout,
  tpF16Unsupported,
  tpReduceRotateWgsl,
  tpUnsupported,
} from '../kernels/decode-attention-tp.wgsl.js';
import {
  type KvTileFormat,
  LANES,
  SLOTS,
  decodeAttentionKey,
  decodeAttentionReduceWgsl,
  decodeAttentionWgsl,
  fusedHeadDimSupported,
} from '../kernels/decode-attention.wgsl.js';
import type { GpuKvTensor } from '../kv-tensor.js';
import { type Recorder, grid } from './recorder.js';

/** Shape of a batched decode step. */
export interface DecodeAttentionShape {
  readonly batch: number;
  readonly tokens: number;
  readonly queryHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/** Options of {@link DecodeAttention}. */
export interface DecodeAttentionOptions {
  /** tokens per slot (each workgroup covers 16 × span tokens); chosen from the shape when omitted */
  readonly span?: number;
  /** softmax scale; default 1/sqrt(headDim) */
  readonly scale?: number;
  /** force a path without subgroups (so never the `'mma'` kernel, which needs them) */
  readonly noSubgroups?: boolean;
  /** tokens per loop iteration of a slot (1..8; default 4; lane kernel only) */
  readonly tokensPerIter?: number;
  /**
   * `'mma'`: the int8 subgroup-matrix kernel (uniform channel-axis keys and token-axis values of
   * 1, 2 or 4 bits; needs the device's `chromium-experimental-subgroup-matrix` with i8 shapes
   * 16 × N × 32 and subgroups of 32, see `createGpuContext({ subgroupMatrix: true })`; only when
   * asked for: on the H100 it is still slower than `'token'`, see the README);
   * `'token'`: the token-parallel kernel (uniform channel-axis keys or HIGGS keys, uniform
   * token-axis or HIGGS values); `'lane'`: the original kernel (fp16, fp8, any uniform);
   * `'subgroup'`: the subgroup-private kernel (HIGGS keys and values, f32 or packed-f16 arithmetic as
   * `arithmetic` says; needs subgroups
   * of one fixed size): the token-parallel kernel's arithmetic with each subgroup walking its own
   * tokens and softmax, so no workgroup barrier inside the tile loop; by default for HIGGS keys and
   * values on large steps in packed f16 (see {@link subgroupKernelByDefault}), else when asked for;
   * with channel-axis uniform keys and token-axis uniform values of 1, 2, 4 or 8 bits it runs packed f16
   * only, folding each key group's scales into the query once per tile (one workgroup barrier per tile;
   * see `decode-attention-sgu.wgsl.ts`), by default on the same large f16 steps;
   * default otherwise: token-parallel wherever it reads the formats, else lane.
   */
  readonly kernel?: 'mma' | 'token' | 'lane' | 'subgroup';
  /**
   * token-parallel kernel: `'f16'` runs the keys and/or values it can read (HIGGS, or uniform codes of
   * 1, 2, 4 or 8 bits; values need the unrolled value phase) in packed-f16 arithmetic, with f16 partial
   * sums added into f32 scores and accumulators (about 10⁻³ of the output's largest value; needs the
   * device's `shader-f16`, which Dawn withholds on NVIDIA Vulkan unless
   * `createGpuContext({ nvidiaShaderF16: true })`); `'f32'` never; `'auto'` (default) as `'f16'` where
   * the device has `shader-f16` and B·kvHeads·tokens ≥ 2^18 (where it measured faster on the H100),
   * else `'f32'`. The `arithmetic` property says which sides it applied to.
   */
  readonly arithmetic?: 'auto' | 'f16' | 'f32';
  /**
   * token-parallel kernel: tokens per thread in the key phase (1 or 2; default 2 with f16
   * arithmetic, else 1 from batch·kvHeads·tokens ≥ 2^19, else 2)
   */
  readonly tokensPerThread?: number;
  /** token-parallel and mma kernels: tiles (128·tokensPerThread, or 32 tokens) per workgroup (default from the shape) */
  readonly tilesPerChunk?: number;
  /**
   * token-parallel kernel: code-generation knobs (see `TpAttentionConfig`): `vunroll` (default
   * from batch·kvHeads·tokens ≥ 2^18), `vbatch`, `lazy`, `dbuf` (off; measured no faster on the
   * H100) and `probe` (benchmarks only: wrong results on purpose); mma kernel: `prefetch` (default
   * on) and `probe` (see `MmaAttentionConfig`); subgroup kernel: `sgVbatch`, `sgVcoop`, `sgVgroups`, `sgKpair`, `sgKprefetch`, `kflush` and `probe` (see
   * `SgAttentionConfig`)
   */
  readonly tuning?: {
    readonly vunroll?: boolean;
    readonly probe?: number;
    readonly dbuf?: boolean;
    readonly vbatch?: number;
    readonly lazy?: boolean;
    readonly prefetch?: boolean;
    /** subgroup kernel: value tokens whose loads are issued together (divides the tokens of a value token group; default min(8, those tokens)) */
    readonly sgVbatch?: number;
    /**
     * subgroup kernel: value codes loaded cooperatively (whole head rows of several tokens per load,
     * handed out by shuffles; needs head rows of a number of words that divides the subgroup size)
     */
    readonly sgVcoop?: boolean;
    /**
     * subgroup kernel: value token groups (a power of two dividing the subgroup size; default 2 where the
     * subgroup has at least 16 invocations, the loads are not cooperative and `sgVbatch` allows, else 1): the
     * value phase's invocations form this many groups, each taking every so-many-th token of a tile with
     * proportionally more channels, so that one load reads that many whole value head rows. Over uniform
     * K/V the default is the fewest groups whose channels per invocation are whole code words
     * (`sguValueGroups`: 4 for 2-bit values at head dim 128 on subgroups of 32); half as many, where
     * that leaves each invocation one half-word (2 for those values), halves the value registers
     */
    readonly sgVgroups?: number;
    /**
     * subgroup kernel: keys read as vec4<u32> where head rows are only 8-byte aligned (aqua-2.5's
     * 5-bit key codes: 10 words per head row), picking each row's words out of 3 loads; default on
     * where the rows allow it and are not 16-byte aligned
     */
    readonly sgKpair?: boolean;
    /**
     * subgroup kernel: each invocation loads the next tile's key rows while it computes this one
     * (loop-carried registers; default on)
     */
    readonly sgKprefetch?: boolean;
    /**
     * token-parallel and subgroup kernels: HIGGS pair codes cut out by `% 2^bits` instead of a mask, so
     * Tint's integer range analysis drops the bounds clamp of the grid lookups (default: on for the
     * subgroup kernel, off for the token-parallel one)
     */
    readonly modIndex?: boolean;
    /** token-parallel and subgroup kernels, f16 keys: code pairs per f16 partial score (default 16) */
    readonly kflush?: number;
    readonly kcenter?: boolean;
    readonly early?: boolean;
    /** token-parallel kernel: channels per thread in the value phase (default 16 for ≤ 4 query heads per KV head, else 8) */
    readonly cpt?: number;
  };
}

/** A fused decode-attention kernel for one shape and one pair of K/V formats. Owns its scratch buffer. */
export class DecodeAttention implements Disposable {
  readonly ctx: GpuContext;
  readonly shape: DecodeAttentionShape;
  readonly span: number;
  readonly nChunks: number;
  readonly subgroups: boolean;
  readonly tokensPerIter: number;
  /**
   * which kernel runs: int8 subgroup matrices, token-parallel (compressed formats), subgroup-private
   * (HIGGS, when asked for), or the lane kernel (fp16, fp8, other uniform layouts)
   */
  readonly kernel: 'mma' | 'token' | 'lane' | 'subgroup';
  /** token-parallel, subgroup and mma kernels: tiles per workgroup (0 for the lane kernel) */
  readonly tilesPerChunk: number;
  /** token-parallel and subgroup kernels: tokens per thread in the key phase (0 otherwise) */
  readonly tokensPerThread: number;
  /** arithmetic of the key and value phases (f16 only where `arithmetic: 'f16'` was asked for and applies) */
  readonly arithmetic: { readonly keys: 'f16' | 'f32'; readonly values: 'f16' | 'f32' } = {
    keys: 'f32',
    values: 'f32',
  };
  #tp: TpAttentionConfig | null = null;
  #mma: MmaAttentionConfig | null = null;
  #sg: SgAttentionConfig | null = null;
  #sgu: SguAttentionConfig | null = null;
  #aux: GpuBuffer | null = null;
  readonly #keys: KvTileFormat;
  readonly #values: KvTileFormat;
  readonly #partials: GpuBuffer;
  readonly #scale: number;

  constructor(
    ctx: GpuContext,
    shape: DecodeAttentionShape,
    keys: KvTileFormat,
    values: KvTileFormat,
    options: DecodeAttentionOptions = {},
  ) {
    const { batch, tokens, queryHeads, kvHeads, headDim } = shape;
    if (!fusedHeadDimSupported(headDim)) {
      throw new UnsupportedOpError(
        'webgpu',
        `fused decode attention with headDim ${headDim} (needs a multiple of 64, ≤ 256)`,
      );
    }
    if (queryHeads % kvHeads !== 0)
      throw new InvalidArgumentError(`queryHeads ${queryHeads} is not a multiple of kvHeads ${kvHeads}`);
    const G = queryHeads / kvHeads;
    this.ctx = ctx;
    this.shape = { ...shape };
    this.#keys = keys;
    this.#values = values;
    this.#scale = options.scale ?? 1 / Math.sqrt(headDim);
    // measured on the H100 (bench/results/h100-2026-11-24-probe-tune.txt): the value phase with every
    // token of a thread unrolled (loads first) wins from B·Hkv·N ≥ 2^18 (1×32k: 0.110 → 0.093 ms),
    // and one token per thread in the key phase from 2^19 (16×32k kivi-2: 0.92 → 0.63 ms); below
    // that the grid is too small to hide the longer per-tile latency
    const work = batch * kvHeads * tokens;
    const cpt = options.tuning?.cpt ?? (G <= 4 ? 16 : 8);
    if (![4, 8, 16, 32].includes(cpt) || cpt > headDim)
      throw new InvalidArgumentError(`tuning.cpt must be 4, 8, 16 or 32 (≤ headDim), got ${cpt}`);
    const vunroll = options.tuning?.vunroll ?? work >= 1 << 18;
    const f16 = f16Plan(ctx, options.arithmetic, keys, values, cpt, vunroll, work);
    // measured on the H100 (bench/results/h100-2026-12-06-f16-*): with f16 arithmetic, 2 tokens per
    // thread at every size (16 × 32k kivi-2: 0.566 → 0.522 ms)
    const tpt = options.tokensPerThread ?? (f16.keys || f16.values || work < 1 << 19 ? 2 : 1);
    if (tpt !== 1 && tpt !== 2) throw new InvalidArgumentError(`tokensPerThread must be 1 or 2, got ${tpt}`);
    const why = tpUnsupported(keys, values, headDim, tpt, cpt);
    const higgs = keys.kind === 'higgs' || values.kind === 'higgs';
    const sgDefault =
      options.kernel === undefined &&
      !options.noSubgroups &&
      subgroupKernelByDefault({
        keys,
        values,
        headDim,
        work,
        f16Keys: f16.keys,
        subgroups: ctx.features.subgroups,
        subgroupSizes: ctx.features.subgroupSizes,
        channels: kvHeads * headDim,
      }) &&
      // uniform K/V: where the default build's workgroup memory fits the device
      (keys.kind !== 'uniform' ||
        sguSharedBytes({
          headDim,
          group: G,
          keys: keys as SguAttentionConfig['keys'],
          subgroupSize: ctx.features.subgroupSizes![0],
          tpt: options.tokensPerThread ?? 2,
        }) <= ctx.limits.maxComputeWorkgroupStorageSize);
    if (options.kernel === 'mma') {
      if (options.noSubgroups)
        throw new InvalidArgumentError("kernel 'mma' needs subgroups (noSubgroups was set)");
      const plan = mmaPlan(ctx, keys, values, headDim, G);
      if ('why' in plan)
        throw new UnsupportedOpError('webgpu', `subgroup-matrix decode attention: ${plan.why}`);
      this.kernel = 'mma';
      this.subgroups = true;
      this.tokensPerIter = 0;
      this.tokensPerThread = 0;
      this.span = 0;
      const tilesTotal = Math.ceil(tokens / MMA_TILE);
      // measured on the H100: see the package README (one subgroup per workgroup; ~4096 workgroups,
      // at most 128 chunks per sequence and head)
      const tiles =
        options.tilesPerChunk ??
        Math.max(1, Math.ceil((batch * kvHeads * tilesTotal) / 4096), Math.ceil(tilesTotal / 128));
      if (!Number.isInteger(tiles) || tiles < 1)
        throw new InvalidArgumentError(`tilesPerChunk must be a positive integer, got ${tiles}`);
      this.tilesPerChunk = tiles;
      this.nChunks = Math.ceil(tilesTotal / tiles);
      this.#mma = {
        headDim,
        group: G,
        keys: keys as MmaAttentionConfig['keys'],
        values: values as MmaAttentionConfig['values'],
        channels: kvHeads * headDim,
        n: plan.n,
        ...(options.tuning?.probe ? { probe: options.tuning.probe } : {}),
        // measured on the H100 (bench/results/h100-2026-12-06-mma-final-bench.txt): 16 × 32k kivi-2
        // 1.08 → 0.97 ms, 1 × 32k 0.175 → 0.148 ms
        prefetch: options.tuning?.prefetch ?? true,
      };
    } else if (
      (options.kernel === 'subgroup' && (keys.kind === 'uniform' || values.kind === 'uniform')) ||
      (sgDefault && keys.kind === 'uniform')
    ) {
      const plan = sguPlan(ctx, shape, keys, values, options);
      this.kernel = 'subgroup';
      this.subgroups = true;
      this.tokensPerIter = 0;
      this.span = 0;
      this.tokensPerThread = plan.cfg.tpt;
      this.tilesPerChunk = plan.tiles;
      this.nChunks = plan.nChunks;
      this.#sgu = plan.cfg;
      this.arithmetic = { keys: 'f16', values: 'f16' };
      this.#aux = GpuBuffer.from(ctx, tpAuxData({ headDim, keys, values }), 'decode attention aux');
    } else if (options.kernel === 'subgroup' || sgDefault) {
      if (options.noSubgroups)
        throw new InvalidArgumentError("kernel 'subgroup' needs subgroups (noSubgroups was set)");
      if (!ctx.features.subgroups)
        throw new UnsupportedOpError(
          'webgpu',
          'subgroup-private decode attention: the device has no subgroups',
        );
      const whySg = sgUnsupported(keys, values, headDim, ctx.features.subgroupSizes);
      if (whySg !== null)
        throw new UnsupportedOpError('webgpu', `subgroup-private decode attention: ${whySg}`);
      // f16 as for the token-parallel kernel: asked for, or 'auto' on large steps where the device has it
      const sgF16 = f16Plan(ctx, options.arithmetic, keys, values, cpt, true, work).keys;
      const sgSize = ctx.features.subgroupSizes![0];
      const sgTpt = options.tokensPerThread ?? 2;
      if (sgTpt !== 1 && sgTpt !== 2)
        throw new InvalidArgumentError(`tokensPerThread must be 1 or 2, got ${sgTpt}`);
      // value token groups: 2 by default where the subgroup has at least 16 invocations (and the loads
      // are not cooperative): on an H100 (bench/results/h100-2026-12-07-s17-*) 16 × 32k f16 aqua-2.5
      // 0.4925 → 0.4498 ms and kvq-2 0.4655 → 0.4165 ms in one run, 4 groups 0.4633 and 0.4348
      const sgCoop = options.tuning?.sgVcoop ?? false;
      const askedVbatch = options.tuning?.sgVbatch;
      const vgroups =
        options.tuning?.sgVgroups ??
        (sgSize >= 16 && !sgCoop && (askedVbatch === undefined || (sgSize / 2) % askedVbatch === 0) ? 2 : 1);
      // the groups themselves first (the default batch size depends on them), then with the batch size
      const whyGroups = sgVgroupsUnsupported({
        headDim,
        subgroupSize: sgSize,
        vbatch: 1,
        vcoop: sgCoop,
        vgroups,
      });
      if (whyGroups) throw new InvalidArgumentError(`tuning.sgVgroups: ${whyGroups}`);
      const vbatch = askedVbatch ?? Math.min(8, sgSize / vgroups);
      if (!Number.isInteger(vbatch) || vbatch < 1 || sgSize % vbatch !== 0)
        throw new InvalidArgumentError(
          `tuning.sgVbatch must divide the subgroup size ${sgSize}, got ${vbatch}`,
        );
      // 8-byte aligned key rows as vec4 by default where they are not 16-byte aligned (aqua-2.5's 10
      // words): with 2 value token groups, 16 × 32k 0.4465 → 0.4343 ms, 1 × 32k 0.0869 → 0.0854 ms
      const kvec = keyRowsVec4(keys, kvHeads * headDim, headDim);
      const kpairFits = !kvec && keyRowsPairAligned(keys, kvHeads * headDim, headDim);
      const kpair = options.tuning?.sgKpair ?? kpairFits;
      this.kernel = 'subgroup';
      this.subgroups = true;
      this.tokensPerIter = 0;
      this.span = 0;
      this.tokensPerThread = sgTpt;
      const tilesTotal = Math.ceil(tokens / sgTileTokens(sgSize, sgTpt));
      const tiles = chunkTiles(options.tilesPerChunk, batch * kvHeads, tilesTotal);
      this.tilesPerChunk = tiles;
      this.nChunks = Math.ceil(tilesTotal / tiles);
      this.#sg = {
        headDim,
        group: G,
        keys: keys as SgAttentionConfig['keys'],
        values: values as SgAttentionConfig['values'],
        channels: kvHeads * headDim,
        subgroupSize: sgSize,
        tpt: sgTpt,
        vbatch,
        kvec,
        ...(kpair ? { kpair: true } : {}),
        f16: sgF16,
        ...(options.tuning?.probe ? { probe: options.tuning.probe } : {}),
        ...(sgCoop ? { vcoop: true } : {}),
        ...(vgroups !== 1 ? { vgroups } : {}),
        // on an H100 (bench/results/h100-2026-12-07-s17-modindex*) 16 × 32k f16 aqua-2.5 0.4397 → 0.4233
        // and 0.4180 ms, kvq-2 0.4212 → 0.4084 and 0.4069 ms
        ...((options.tuning?.modIndex ?? true) ? { modIndex: true } : {}),
        // on an H100 (bench/results/h100-2026-12-07-s18-*) 16 × 32k f16 aqua-2.5 0.4203 → 0.3967 ms, kvq-2
        // 0.4019 → 0.3990 ms; 16 × 4k 0.0948 → 0.0958 and 0.0929 → 0.0898 ms
        ...((options.tuning?.sgKprefetch ?? true) ? { kprefetch: true } : {}),
        // (f32 value accumulators in workgroup memory instead of registers were about 1.9× slower on an H100,
        // bench/results/h100-2026-12-07-s20-ab-bench.txt: 16 × 32k f16 aqua-2.5 0.3984 → 0.7591 ms; removed)
        ...(options.tuning?.kflush !== undefined ? { kflush: options.tuning.kflush } : {}),
      };
      checkKflush(this.#sg.kflush, headDim);
      if (this.#sg.vcoop) {
        const whyC = sgVcoopUnsupported(this.#sg);
        if (whyC)
          throw new UnsupportedOpError('webgpu', `subgroup-private decode attention, sgVcoop: ${whyC}`);
      }
      if (kpair && !kpairFits)
        throw new UnsupportedOpError(
          'webgpu',
          'subgroup-private decode attention, sgKpair: key head rows are not 8-byte aligned in whole-vec4 rows and blocks, or already read as vec4',
        );
      {
        const whyG = sgVgroupsUnsupported({ ...this.#sg, vgroups });
        if (whyG) throw new InvalidArgumentError(`tuning.sgVgroups: ${whyG}`);
      }
      this.arithmetic = sgF16 ? { keys: 'f16', values: 'f16' } : { keys: 'f32', values: 'f32' };
      const shared = sgSharedBytes(this.#sg);
      if (shared > ctx.limits.maxComputeWorkgroupStorageSize) {
        throw new UnsupportedOpError(
          'webgpu',
          `subgroup-private decode attention needs ${shared} B of workgroup memory (device: ${ctx.limits.maxComputeWorkgroupStorageSize})`,
        );
      }
      this.#aux = GpuBuffer.from(ctx, tpAuxData({ headDim, keys, values }), 'decode attention aux');
    } else if (options.kernel === 'token' || (options.kernel !== 'lane' && why === null)) {
      if (why !== null) throw new UnsupportedOpError('webgpu', `token-parallel decode attention: ${why}`);
      this.kernel = 'token';
      this.subgroups = ctx.features.subgroups && !options.noSubgroups;
      this.tokensPerIter = 0;
      this.span = 0;
      const TT = TP_THREADS * tpt;
      const tilesTotal = Math.ceil(tokens / TT);
      const tiles = chunkTiles(options.tilesPerChunk, batch * kvHeads, tilesTotal);
      this.tilesPerChunk = tiles;
      this.tokensPerThread = tpt;
      this.nChunks = Math.ceil(tilesTotal / tiles);
      const tuning = { ...(options.tuning ?? {}), vunroll };
      this.arithmetic = { keys: f16.keys ? 'f16' : 'f32', values: f16.values ? 'f16' : 'f32' };
      this.#tp = {
        headDim,
        group: G,
        keys,
        values,
        subgroups: this.subgroups,
        tpt,
        cpt,
        channels: kvHeads * headDim,
        kvec: keyRowsVec4(keys, kvHeads * headDim, headDim),
        ...tuning,
        f16Keys: f16.keys,
        f16Values: f16.values,
      };
      const shared = tpSharedBytes(this.#tp);
      if (shared > ctx.limits.maxComputeWorkgroupStorageSize) {
        throw new UnsupportedOpError(
          'webgpu',
          `token-parallel decode attention needs ${shared} B of workgroup memory (device: ${ctx.limits.maxComputeWorkgroupStorageSize})`,
        );
      }
      this.#aux = GpuBuffer.from(ctx, tpAuxData({ headDim, keys, values }), 'decode attention aux');
    } else {
      if (higgs) {
        throw new UnsupportedOpError(
          'webgpu',
          `fused decode attention over higgs blocks needs the token-parallel kernel${why ? ` (${why})` : ''}`,
        );
      }
      this.kernel = 'lane';
      this.tilesPerChunk = 0;
      this.tokensPerThread = 0;
      this.subgroups = ctx.features.subgroups && !options.noSubgroups && subgroupSizeOk(ctx);
      // measured on the H100: fp16 K/V fastest at 8 tokens/iteration, encoded ones at 4 (8 spills)
      const tpi = options.tokensPerIter ?? (keys.kind === 'f16' && values.kind === 'f16' ? 8 : 4);
      if (!Number.isInteger(tpi) || tpi < 1 || tpi > 8)
        throw new InvalidArgumentError(`tokensPerIter must be in 1..8, got ${tpi}`);
      this.tokensPerIter = tpi;
      const shared = 4 * (SLOTS * (headDim + 2) + (this.subgroups ? 0 : LANES * SLOTS * G * tpi));
      if (shared > ctx.limits.maxComputeWorkgroupStorageSize) {
        throw new UnsupportedOpError(
          'webgpu',
          `fused decode attention needs ${shared} B of workgroup memory (device: ${ctx.limits.maxComputeWorkgroupStorageSize})`,
        );
      }
      // measured on the H100: long slots (≤ 128 tokens) beat more workgroups, down to ~128 workgroups
      const target = 128;
      const span =
        options.span ?? Math.min(128, Math.max(16, Math.ceil((tokens * batch * kvHeads) / (SLOTS * target))));
      // the kernel steps through a slot's tokens tokensPerIter at a time
      this.span = Math.ceil(span / tpi) * tpi;
      this.nChunks = Math.ceil(tokens / (SLOTS * this.span));
    }
    if (options.arithmetic === 'f16' && this.kernel !== 'token' && this.kernel !== 'subgroup')
      throw new UnsupportedOpError(
        'webgpu',
        `arithmetic 'f16' outside the token-parallel and subgroup kernels (this shape and format use the ${this.kernel} kernel)`,
      );
    this.#partials = new GpuBuffer(
      ctx,
      batch * queryHeads * this.nChunks * (headDim + 2) * 4,
      undefined,
      'decode attention partials',
    );
  }

  /** Records attention of `q` (f32 [batch, queryHeads, headDim]) over `keys`/`values` into `out` (same shape as q). */
  record(rec: Recorder, q: GpuBuffer, keys: GpuKvTensor, values: GpuKvTensor, out: GpuBuffer): void {
    const s = this.shape;
    if (this.#mma || this.#tp || this.#sg || this.#sgu) {
      const params = [
        s.tokens,
        s.kvHeads,
        this.tilesPerChunk,
        this.nChunks,
        { f32: this.#scale },
        keys.blocksPerSequence,
        values.blocksPerSequence,
      ];
      const groups = [this.nChunks, s.kvHeads, s.batch] as const;
      const mma = this.#mma;
      const tp = this.#tp;
      const sg = this.#sg;
      const sgu = this.#sgu;
      const aux = this.#aux;
      if (sgu && aux) {
        rec.dispatch(
          sguAttentionKey(sgu),
          () => sguAttentionWgsl(sgu),
          params,
          [q, keys.buffer, values.buffer, this.#partials, keys.buffer, aux],
          groups,
        );
      } else if (sg && aux) {
        rec.dispatch(
          sgAttentionKey(sg),
          () => sgAttentionWgsl(sg),
          params,
          [q, keys.buffer, values.buffer, this.#partials, keys.buffer, aux],
          groups,
        );
      } else if (mma) {
        rec.dispatch(
          mmaAttentionKey(mma),
          () => mmaAttentionWgsl(mma),
          params,
          [q, keys.buffer, values.buffer, this.#partials],
          groups,
        );
      } else if (tp && aux) {
        rec.dispatch(
          tpAttentionKey(tp),
          () => tpAttentionWgsl(tp),
          params,
          [q, keys.buffer, values.buffer, this.#partials, keys.buffer, aux],
          groups,
        );
      }
      const rot = sg ?? (tp?.values.kind === 'higgs' ? tp : null);
      if (rot && aux) {
        const sv = tpAuxLayout(rot).sv;
        rec.dispatch(
          `dattn-reduce-rot:${s.headDim}:${sv}`,
          () => tpReduceRotateWgsl(s.headDim, sv),
          [this.nChunks],
          [this.#partials, out, aux],
          grid(this.ctx, s.batch * s.queryHeads),
        );
      } else {
        rec.dispatch(
          `dattn-reduce:${s.headDim}`,
          () => decodeAttentionReduceWgsl(s.headDim),
          [this.nChunks],
          [this.#partials, out],
          grid(this.ctx, s.batch * s.queryHeads),
        );
      }
      return;
    }
    const cfg = {
      headDim: s.headDim,
      group: s.queryHeads / s.kvHeads,
      keys: this.#keys,
      values: this.#values,
      subgroups: this.subgroups,
      tokensPerIter: this.tokensPerIter,
      channels: s.kvHeads * s.headDim,
    };
    rec.dispatch(
      decodeAttentionKey(cfg),
      () => decodeAttentionWgsl(cfg),
      [
        s.tokens,
        s.kvHeads,
        this.span,
        this.nChunks,
        { f32: this.#scale },
        s.kvHeads * s.headDim,
        keys.blocksPerSequence,
        values.blocksPerSequence,
      ],
      [q, keys.buffer, values.buffer, this.#partials],
      [this.nChunks, s.kvHeads, s.batch],
    );
    rec.dispatch(
      `dattn-reduce:${s.headDim}`,
      () => decodeAttentionReduceWgsl(s.headDim),
      [this.nChunks],
      [this.#partials, out],
      grid(this.ctx, s.batch * s.queryHeads),
    );
  }

  dispose(): void {
    this.#partials.dispose();
    this.#aux?.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * The subgroup kernel over uniform K/V (`kernel: 'subgroup'` with uniform keys or values): its
 * configuration, tiles per chunk and chunks, or a typed error naming what cannot run.
 */
function sguPlan(
  ctx: GpuContext,
  shape: DecodeAttentionShape,
  keys: KvTileFormat,
  values: KvTileFormat,
  options: DecodeAttentionOptions,
): { cfg: SguAttentionConfig; tiles: number; nChunks: number } {
  const { batch, tokens, queryHeads, kvHeads, headDim } = shape;
  const what = 'subgroup-private decode attention over uniform K/V';
  if (options.noSubgroups)
    throw new InvalidArgumentError("kernel 'subgroup' needs subgroups (noSubgroups was set)");
  if (!ctx.features.subgroups) throw new UnsupportedOpError('webgpu', `${what}: the device has no subgroups`);
  if (options.arithmetic === 'f32')
    throw new UnsupportedOpError('webgpu', `${what} runs packed f16 only (arithmetic 'f32' was asked for)`);
  if (!ctx.features.shaderF16)
    throw new UnsupportedOpError('webgpu', `${what} runs packed f16 only (the device has no shader-f16)`);
  const t = options.tuning ?? {};
  for (const [name, on] of [
    ['sgVcoop', t.sgVcoop],
    ['sgKpair', t.sgKpair],
    ['sgKprefetch', t.sgKprefetch],
    ['modIndex', t.modIndex],
  ] as const)
    if (on) throw new InvalidArgumentError(`tuning.${name} applies to HIGGS K/V only (${what})`);
  if (t.probe) throw new InvalidArgumentError(`tuning.probe has no builds in ${what}`);
  const tpt = options.tokensPerThread ?? 2;
  if (tpt !== 1 && tpt !== 2) throw new InvalidArgumentError(`tokensPerThread must be 1 or 2, got ${tpt}`);
  const sizes = ctx.features.subgroupSizes;
  const C = kvHeads * headDim;
  const why = sguUnsupported(keys, values, headDim, sizes, { tpt, channels: C });
  if (why !== null) throw new UnsupportedOpError('webgpu', `${what}: ${why}`);
  const SG = sizes![0];
  const vf = values as SguAttentionConfig['values'];
  const vgroups = t.sgVgroups ?? sguValueGroups(vf, headDim, SG)!;
  const whyG = sguValueGroupsUnsupported(vf, headDim, SG, vgroups);
  if (whyG !== null) throw new InvalidArgumentError(`tuning.sgVgroups: ${whyG}`);
  // value batches of 4 tokens: on an H100 (bench/results/h100-2026-12-07-s20-ab2*) 16 × 32k kivi-2 0.5582 →
  // 0.5257 ms and k4v2 0.5762 → 0.5449 ms against batches of 8 (164 registers instead of 240)
  const vbatch = t.sgVbatch ?? Math.min(4, SG / vgroups);
  if (!Number.isInteger(vbatch) || vbatch < 1 || (SG / vgroups) % vbatch !== 0)
    throw new InvalidArgumentError(
      `tuning.sgVbatch must divide the ${SG / vgroups} tokens of a value token group, got ${vbatch}`,
    );
  checkKflush(t.kflush, headDim);
  const cfg: SguAttentionConfig = {
    headDim,
    group: queryHeads / kvHeads,
    keys: keys as SguAttentionConfig['keys'],
    values: vf,
    channels: C,
    subgroupSize: SG,
    tpt,
    vgroups,
    vbatch,
    kvec: keyRowsVec4(keys, C, headDim),
    ...(t.kflush !== undefined ? { kflush: t.kflush } : {}),
  };
  const shared = sguSharedBytes(cfg);
  if (shared > ctx.limits.maxComputeWorkgroupStorageSize)
    throw new UnsupportedOpError(
      'webgpu',
      `${what} needs ${shared} B of workgroup memory (device: ${ctx.limits.maxComputeWorkgroupStorageSize})`,
    );
  const tilesTotal = Math.ceil(tokens / sgTileTokens(SG, tpt));
  const tiles = chunkTiles(options.tilesPerChunk, batch * kvHeads, tilesTotal);
  return { cfg, tiles, nChunks: Math.ceil(tilesTotal / tiles) };
}

/** `tuning.kflush` of the subgroup kernels, where given: code pairs per f16 partial score, dividing headDim / 2. */
function checkKflush(kflush: number | undefined, headDim: number): void {
  if (kflush !== undefined && (!Number.isInteger(kflush) || kflush < 1 || (headDim / 2) % kflush !== 0))
    throw new InvalidArgumentError(`tuning.kflush must divide headDim / 2 = ${headDim / 2}, got ${kflush}`);
}

/**
 * Tiles per workgroup of the token-parallel and subgroup kernels: `asked`, or about 1024 workgroups
 * with at most 64 chunks per sequence and head.
 */
function chunkTiles(asked: number | undefined, rows: number, tilesTotal: number): number {
  let tiles = asked ?? Math.max(1, Math.ceil((rows * tilesTotal) / 1024));
  if (asked === undefined && Math.ceil(tilesTotal / tiles) > 64) tiles = Math.ceil(tilesTotal / 64);
  if (!Number.isInteger(tiles) || tiles < 1)
    throw new InvalidArgumentError(`tilesPerChunk must be a positive integer, got ${tiles}`);
  return tiles;
}

/**
 * The matrix width the int8 subgroup-matrix kernel would use here, or why it cannot run (device or
 * formats).
 */
function mmaPlan(
  ctx: GpuContext,
  keys: KvTileFormat,
  values: KvTileFormat,
  headDim: number,
  group: number,
): { readonly n: number } | { readonly why: string } {
  if (ctx.features.i8Matrices.length === 0)
    return {
      why: 'the device has no i8 subgroup matrices (chromium-experimental-subgroup-matrix; createGpuContext({ subgroupMatrix: true }) requests it)',
    };
  const sz = ctx.features.subgroupSizes;
  if (!sz || sz[0] !== 32 || sz[1] !== 32)
    return {
      why: `subgroups of ${sz ? `${sz[0]}..${sz[1]}` : 'unknown size'} invocations (needs exactly 32)`,
    };
  const n = mmaColumns(group, ctx.features.i8Matrices);
  if (n === null)
    return { why: `no i8 shape 16 × N × 32 with N ≥ ${2 * group} (${group} query heads per kv head)` };
  const f = mmaUnsupported(keys, values, headDim);
  if (f !== null) return { why: f };
  const bytes = 4 * mmaLayout({ headDim, n, values: values as MmaAttentionConfig['values'] }).total;
  if (bytes > ctx.limits.maxComputeWorkgroupStorageSize)
    return { why: `${bytes} B of workgroup memory (device: ${ctx.limits.maxComputeWorkgroupStorageSize})` };
  return { n };
}

/** Whether key rows can be read as vec4<u32> (every row of a head starts on a 16-byte boundary). */
function keyRowsVec4(f: KvTileFormat, C: number, D: number): boolean {
  if (f.kind === 'uniform') {
    return (
      f.blockWords % 4 === 0 &&
      f.nGroups % 4 === 0 &&
      ((C * f.bits) / 32) % 4 === 0 &&
      ((D * f.bits) / 32) % 4 === 0
    );
  }
  if (f.kind === 'higgs') {
    const row = ((C / 2) * f.codeBits) / 32;
    const head = ((D / 2) * f.codeBits) / 32;
    return f.blockWords % 4 === 0 && f.scaleWords % 4 === 0 && row % 4 === 0 && head % 4 === 0;
  }
  return false;
}

/**
 * Whether {@link DecodeAttention} picks the subgroup-private kernel when no `kernel` is asked for: keys and
 * values it reads (HIGGS, or channel-axis uniform keys with token-axis uniform values), subgroups of one
 * fixed size of at least 16 invocations (where its default value token groups apply), packed-f16 keys, and
 * B·kvHeads·tokens ≥ 2^19. Measured on an H100 against the token-parallel kernel, f16:
 * - HIGGS (bench/results/h100-2026-12-07-s17-final2*): 16 × 4k aqua-2.5 0.1177 → 0.0924 ms and kvq-2
 *   0.1032 → 0.0883 ms, 16 × 32k 0.5282 → 0.4187 and 0.4304 → 0.4046 ms; at 1 × 32k (2^18) kvq-2 0.0860
 *   against 0.0916 ms, so smaller steps keep the token-parallel kernel;
 * - uniform, value batches of 4 (bench/results/h100-2026-12-07-s20-ab2*, two rounds): 16 × 4k kivi-2
 *   0.1074 / 0.1055 → 0.0981 / 0.0986 ms and k4v2 0.1080 / 0.1090 → 0.0988 / 0.0987 ms, 16 × 32k kivi-2
 *   0.5343 / 0.5347 → 0.5257 / 0.5244 ms and k4v2 0.5576 / 0.5563 → 0.5449 / 0.5458 ms.
 * `channels` (kvHeads · headDim), where given, is checked against uniform value groups.
 */
export function subgroupKernelByDefault(a: {
  readonly keys: KvTileFormat;
  readonly values: KvTileFormat;
  readonly headDim: number;
  /** batch · kvHeads · tokens */
  readonly work: number;
  /** whether the keys run in packed f16 (`arithmetic`'s plan) */
  readonly f16Keys: boolean;
  readonly subgroups: boolean;
  readonly subgroupSizes: readonly [number, number] | null;
  readonly channels?: number;
}): boolean {
  if (!a.subgroups || !a.f16Keys || a.work < 1 << 19) return false;
  if (sgFixedSizeUnsupported(a.subgroupSizes) !== null || a.subgroupSizes![0] < 16) return false;
  if (a.keys.kind === 'uniform' && a.values.kind === 'uniform')
    return (
      sguUnsupported(a.keys, a.values, a.headDim, a.subgroupSizes, {
        tpt: 2,
        ...(a.channels !== undefined ? { channels: a.channels } : {}),
      }) === null
    );
  return sgUnsupported(a.keys, a.values, a.headDim, a.subgroupSizes) === null;
}

/** HIGGS key head rows of an even number of words, in rows and blocks of whole vec4s (see `SgAttentionConfig.kpair`). */
function keyRowsPairAligned(f: KvTileFormat, C: number, D: number): boolean {
  if (f.kind !== 'higgs') return false;
  const row = ((C / 2) * f.codeBits) / 32;
  const head = ((D / 2) * f.codeBits) / 32;
  return f.blockWords % 4 === 0 && f.scaleWords % 4 === 0 && row % 4 === 0 && head % 2 === 0;
}

/**
 * Which sides of the token-parallel kernel run in packed-f16 arithmetic: `'f32'` neither; `'f16'`
 * every side that can (throws when the device has no shader-f16 or no side can); `'auto'` (default)
 * like `'f16'` where the device has shader-f16 and the step is large (B·Hkv·N ≥ 2^18, where it
 * measured faster on the H100), else neither.
 */
function f16Plan(
  ctx: GpuContext,
  arithmetic: DecodeAttentionOptions['arithmetic'],
  keys: KvTileFormat,
  values: KvTileFormat,
  cpt: number,
  vunroll: boolean,
  work: number,
): { keys: boolean; values: boolean } {
  const mode = arithmetic ?? 'auto';
  if (mode !== 'auto' && mode !== 'f16' && mode !== 'f32')
    throw new InvalidArgumentError(`arithmetic must be 'auto', 'f16' or 'f32', got ${String(arithmetic)}`);
  if (mode === 'f32' || (mode === 'auto' && (!ctx.features.shaderF16 || work < 1 << 18)))
    return { keys: false, values: false };
  if (!ctx.features.shaderF16)
    throw new UnsupportedOpError('webgpu', "arithmetic 'f16' (the device has no shader-f16)");
  const whyK = tpF16Unsupported('keys', keys, cpt);
  const whyV = vunroll ? tpF16Unsupported('values', values, cpt) : 'values without the unrolled value phase';
  if (mode === 'f16' && whyK && whyV)
    throw new UnsupportedOpError(
      'webgpu',
      `arithmetic 'f16' for these keys or values (keys: ${whyK}; values: ${whyV})`,
    );
  return { keys: whyK === null, values: whyV === null };
}

/** Workgroup memory of the token-parallel kernel (bytes). */
function tpSharedBytes(c: TpAttentionConfig): number {
  const D = c.headDim;
  const G = c.group;
  const TT = TP_THREADS * c.tpt;
  const NTG = TP_THREADS / (D / c.cpt);
  const nkg = c.keys.kind === 'uniform' ? Math.max(1, TT / c.keys.groupSize) : 1;
  const tab = (f: KvTileFormat) => (f.kind === 'higgs' ? 2 << f.codeBits : 0);
  const red = Math.max(NTG * D, c.keys.kind === 'uniform' ? nkg * D * G : 0, TP_THREADS * G);
  const x2 = c.dbuf ? 2 : 1;
  // f16 keys: uniform ones stage f32 pairs (2 words per pair and head) and keep packed pairs (1 word),
  // HIGGS ones keep the f32 rotated query and packed pairs; both a max and a scale per slot
  const qs = c.f16Keys
    ? c.keys.kind === 'uniform'
      ? nkg * (D / 2) * G * 3 + 2 * nkg
      : D * G + (D / 2) * G + 2
    : nkg * D * G * (c.dbuf && c.keys.kind === 'uniform' ? 2 : 1);
  return 4 * (D * G + qs + nkg * G + TP_THREADS + TT * G * x2 + red + 2 * G + tab(c.keys) + tab(c.values));
}

function subgroupSizeOk(ctx: GpuContext): boolean {
  // The lane reduction needs subgroups of ≥ 8 invocations; without the adapter's word, do not assume.
  const sizes = ctx.features.subgroupSizes;
  return sizes !== null && sizes[0] >= LANES;
}
