/**
 * Host side of the fused decode attention: picks the split, owns the partials buffer, records
 * the two dispatches.
 */
import { InvalidArgumentError, UnsupportedOpError } from '@kvq/core';
import { GpuBuffer } from '../buffer.js';
import type { GpuContext } from '../context.js';
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
  /** force the path without subgroups */
  readonly noSubgroups?: boolean;
  /** tokens per loop iteration of a slot (1..8; default 4) */
  readonly tokensPerIter?: number;
}

/** A fused decode-attention kernel for one shape and one pair of K/V formats. Owns its scratch buffer. */
export class DecodeAttention implements Disposable {
  readonly ctx: GpuContext;
  readonly shape: DecodeAttentionShape;
  readonly span: number;
  readonly nChunks: number;
  readonly subgroups: boolean;
  readonly tokensPerIter: number;
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
    this.ctx = ctx;
    this.shape = { ...shape };
    // measured on the H100: long slots (≤ 128 tokens) beat more workgroups, down to ~128 workgroups
    const target = 128;
    const span =
      options.span ?? Math.min(128, Math.max(16, Math.ceil((tokens * batch * kvHeads) / (SLOTS * target))));
    // the kernel steps through a slot's tokens tokensPerIter at a time
    this.span = Math.ceil(span / tpi) * tpi;
    this.nChunks = Math.ceil(tokens / (SLOTS * this.span));
    this.#keys = keys;
    this.#values = values;
    this.#scale = options.scale ?? 1 / Math.sqrt(headDim);
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
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

function subgroupSizeOk(ctx: GpuContext): boolean {
  const info = (ctx.adapterInfo ?? (ctx.device as { adapterInfo?: GPUAdapterInfo }).adapterInfo ?? null) as
    | (GPUAdapterInfo & { subgroupMinSize?: number })
    | null;
  const min = info?.subgroupMinSize;
  // The lane reduction needs subgroups of ≥ 8 invocations; without the adapter's word, do not assume.
  return typeof min === 'number' && min >= LANES;
}
