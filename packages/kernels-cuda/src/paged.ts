import { type HiggsSpec, InvalidArgumentError } from '@kvq/core';
import { requireCuda } from './context.js';
import { decodeArgs } from './decode-args.js';
import { DeviceBuffer } from './device-buffer.js';
import { cuda } from './errors.js';
import { higgsAttentionUnsupported, higgsPairCodeBits, higgsPairTable, higgsSigns } from './higgs-pages.js';
import { encodeOnDevice, encodedBytes } from './quantizers.js';

/** How a page of a paged cache is stored. */
export type PageFormat =
  | { readonly kind: 'fp16' }
  /** keys: uniform axis 'channel' (groups of gsK tokens), values: uniform axis 'token' (gsV channels) — KIVI */
  | {
      readonly kind: 'uniform';
      readonly bitsK: 2 | 4;
      readonly gsK: number;
      readonly bitsV: 2 | 4;
      readonly gsV: number;
    }
  /**
   * keys then values as @kvq/core HIGGS blocks with Hadamard blocks of one head (128 channels) — the
   * residual format of the aqua-* and kvq-2 presets; widths in {@link HIGGS_ATTENTION_CODE_BITS}
   */
  | { readonly kind: 'higgs'; readonly keys: HiggsSpec; readonly values: HiggsSpec };

/** Layout of a paged K/V pool for one layer: pages of `pageTokens` tokens of all KV heads. */
export interface PagedLayout {
  readonly format: PageFormat;
  /** tokens per page (multiple of 32) */
  readonly pageTokens: number;
  readonly kvHeads: number;
  /** the decode kernels are compiled for 128 */
  readonly headDim: 128;
}

/** Bytes of one page: fp16 K then V, or a key block then a value block (core byte layout). */
export function pageBytes(l: PagedLayout): number {
  const C = l.kvHeads * l.headDim;
  if (l.format.kind === 'fp16') return 2 * l.pageTokens * C * 2;
  if (l.format.kind === 'higgs') {
    const shape = { tokens: l.pageTokens, kvHeads: l.kvHeads, headDim: l.headDim };
    return encodedBytes(l.format.keys, shape) + encodedBytes(l.format.values, shape);
  }
  const { addon } = requireCuda();
  return (
    addon.uniformBytes(l.pageTokens, C, l.format.bitsK, 0, l.format.gsK) +
    addon.uniformBytes(l.pageTokens, C, l.format.bitsV, 1, l.format.gsV)
  );
}

/**
 * A pool of fixed-size pages in device memory (one layer). Sequences own lists of page indices
 * (a page table), so they grow without reallocation. Disposable.
 */
export class PagedKVPool implements Disposable {
  readonly layout: PagedLayout;
  readonly pages: number;
  readonly pageBytes: number;
  readonly buffer: DeviceBuffer;
  /** HIGGS pages: the kernel's constant tables (pair-code points and signs, keys then values) */
  readonly higgsTables: readonly [DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer] | null;

  constructor(layout: PagedLayout, pages: number) {
    if (layout.headDim !== 128) throw new InvalidArgumentError('PagedKVPool: headDim must be 128');
    if (layout.pageTokens % 32 !== 0)
      throw new InvalidArgumentError('PagedKVPool: pageTokens must be a multiple of 32');
    if (layout.format.kind === 'higgs') {
      const why = higgsAttentionUnsupported(layout.format.keys, layout.format.values);
      if (why) throw new InvalidArgumentError(`PagedKVPool: HIGGS pages not supported: ${why}`);
    }
    this.layout = layout;
    this.pages = pages;
    this.pageBytes = pageBytes(layout);
    this.buffer = new DeviceBuffer(this.pageBytes * pages);
    if (layout.format.kind === 'higgs') {
      const f = layout.format;
      const bufs: DeviceBuffer[] = [];
      try {
        for (const t of [
          higgsPairTable(f.keys),
          higgsPairTable(f.values),
          higgsSigns(f.keys),
          higgsSigns(f.values),
        ])
          bufs.push(DeviceBuffer.from(t));
      } catch (e) {
        for (const b of bufs) b.dispose();
        this.buffer.dispose();
        throw e;
      }
      this.higgsTables = bufs as unknown as [DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer];
    } else {
      this.higgsTables = null;
    }
  }

  /** Encodes fp32 keys and values `[pageTokens, kvHeads, 128]` into page `index` (on the GPU). */
  writePage(index: number, keys: Float32Array, values: Float32Array): void {
    const { addon } = requireCuda();
    const l = this.layout;
    const C = l.kvHeads * l.headDim;
    const n = l.pageTokens * C;
    if (keys.length !== n || values.length !== n)
      throw new InvalidArgumentError(`writePage: expected ${n} values`);
    if (index < 0 || index >= this.pages) throw new RangeError(`writePage: page ${index} out of range`);
    const base = this.buffer.ptr + BigInt(index * this.pageBytes);
    using k = DeviceBuffer.from(keys);
    using v = DeviceBuffer.from(values);
    if (l.format.kind === 'fp16') {
      cuda('fp16 encode', () => addon.fp16Encode(k.ptr, base, n, 0));
      cuda('fp16 encode', () => addon.fp16Encode(v.ptr, base + BigInt(n * 2), n, 0));
    } else if (l.format.kind === 'higgs') {
      const shape = { tokens: l.pageTokens, kvHeads: l.kvHeads, headDim: l.headDim };
      encodeOnDevice(l.format.keys, shape, k.ptr, base);
      encodeOnDevice(l.format.values, shape, v.ptr, base + BigInt(encodedBytes(l.format.keys, shape)));
    } else {
      const f = l.format;
      const kb = addon.uniformBytes(l.pageTokens, C, f.bitsK, 0, f.gsK);
      cuda('uniform encode', () => addon.uniformEncode(k.ptr, base, l.pageTokens, C, f.bitsK, 0, f.gsK, 0));
      cuda('uniform encode', () =>
        addon.uniformEncode(v.ptr, base + BigInt(kb), l.pageTokens, C, f.bitsV, 1, f.gsV, 0),
      );
    }
  }

  /** Copies page `src` over page `dst` (device to device). */
  copyPage(dst: number, src: number): void {
    const { addon } = requireCuda();
    const b = BigInt(this.pageBytes);
    cuda('cudaMemcpy D2D', () =>
      addon.d2d(this.buffer.ptr + BigInt(dst) * b, this.buffer.ptr + BigInt(src) * b, this.pageBytes),
    );
  }

  dispose(): void {
    this.buffer.dispose();
    for (const b of this.higgsTables ?? []) b.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Pages per block along the context. fp16 and the scalar uniform kernel: about 2 blocks per SM, at
 * most 16 pages (split sweep of bench/run.ts on an H100: at B=1, 32k, 8 pages per block ran 0.081 ms
 * vs 0.109 ms at 2). The tensor-core kernel (pass `format` of a uniform layout) amortises its
 * per-block set-up and merge over longer runs: one wave of 2 blocks per SM (its register use allows
 * 2), 4 to 32 pages (sweep: B=1 32k best at 8, B=1 128k at 32, B=16 32k at 32). HIGGS pages go to
 * 64: in the 2026-12-07 sweeps at B=16 (bench/results/h100-2026-12-07-ab{2,3}-sweep-*.txt, five builds)
 * 64 pages per block beat 32 in 19 of 20 pairs of runs of aqua-2.5 and kvq-2 K2/V2 at 32k and 128k, by
 * up to 3%, as in the 2026-12-06 sweep; 128 was slower.
 */
export function defaultSplitPages(
  batch: number,
  kvHeads: number,
  maxPages: number,
  multiProcessors = 132,
  format?: PageFormat,
): number {
  if (format) {
    const perSplit = Math.ceil((batch * kvHeads * maxPages) / (2 * multiProcessors));
    const cap = format.kind === 'higgs' ? 64 : 32;
    return Math.max(1, Math.min(maxPages, cap, Math.max(4, perSplit)));
  }
  const perSplit = Math.ceil((batch * kvHeads * maxPages) / (2 * multiProcessors));
  return Math.max(1, Math.min(maxPages, 16, perSplit));
}

/**
 * Scratch for {@link decodeAttention}: partial softmax states [B, Hq, splits, 2 + 128] fp32; with
 * `valueLayers` > 1, for a value chain (decodeAttentionValueChain): [B, Hq, splits, 2 + 128 · valueLayers].
 */
export function partialBytes(
  batch: number,
  queryHeads: number,
  maxPages: number,
  splitPages: number,
  valueLayers = 1,
): number {
  return batch * queryHeads * Math.ceil(maxPages / splitPages) * (2 + 128 * valueLayers) * 4;
}

/** Arguments of {@link decodeAttention} (device buffers). */
export interface DecodeAttentionArgs {
  readonly pool: PagedKVPool;
  /** fp16 [batch, queryHeads, 128], RoPE applied */
  readonly query: DeviceBuffer;
  /** int32 [batch, maxPages] page indices */
  readonly pageTable: DeviceBuffer;
  /** int32 [batch] tokens per sequence (sequences may differ) */
  readonly lengths: DeviceBuffer;
  /** fp16 [batch, queryHeads, 128] */
  readonly out: DeviceBuffer;
  /** scratch of {@link partialBytes} */
  readonly partial: DeviceBuffer;
  readonly batch: number;
  /** G × kvHeads with G ∈ {1, 2, 4, 8} query heads per KV head (Llama-3 8B: G = 4) */
  readonly queryHeads: number;
  readonly maxPages: number;
  readonly splitPages: number;
  /** default 1/sqrt(128) */
  readonly scale?: number;
  /**
   * Kernel for fp16 and uniform pages: `'auto'` (default) uses the tensor-core kernel wherever it
   * applies ({@link tensorCoreApplies}), else the first (CUDA-core, "scalar") one; `'scalar'` /
   * `'tensor-core'` force one (`'tensor-core'` where it does not apply is an `InvalidArgumentError`).
   * HIGGS pages have only the tensor-core kernel.
   */
  readonly kernel?: 'auto' | 'scalar' | 'tensor-core';
}

/**
 * Whether the tensor-core (mma.sync) kernel handles a page format. fp16: always (within the limits
 * below). Uniform: bits K/V ∈ {2, 4}, key
 * groups a multiple of 32 tokens dividing the page, value groups a multiple of 16 channels. HIGGS:
 * Hadamard blocks of 128 channels, widths in {@link HIGGS_ATTENTION_CODE_BITS}. Both: pages a
 * multiple of 32 tokens, at most 8 query heads per KV head.
 */
export function tensorCoreApplies(layout: PagedLayout, group: number): boolean {
  const f = layout.format;
  if (f.kind === 'higgs')
    return (
      group >= 1 &&
      group <= 8 &&
      layout.pageTokens % 32 === 0 &&
      higgsAttentionUnsupported(f.keys, f.values) === null
    );
  if (f.kind === 'fp16') return group >= 1 && group <= 8 && layout.pageTokens % 32 === 0;
  if (f.kind !== 'uniform') return false;
  return (
    group >= 1 &&
    group <= 8 &&
    layout.pageTokens % 32 === 0 &&
    f.gsK % 32 === 0 &&
    layout.pageTokens % f.gsK === 0 &&
    f.gsV % 16 === 0 &&
    (f.bitsK === 2 || f.bitsK === 4) &&
    (f.bitsV === 2 || f.bitsV === 4)
  );
}

/**
 * Decode attention (one query token per sequence) reading the paged cache directly: fp16 pages,
 * uniform (KIVI) pages dequantized in registers, or HIGGS pages (the query rotated once into the
 * Hadamard domain, codes read as grid points, the output rotated back) — no decompressed copy of
 * the cache is written.
 * Asynchronous on the default stream.
 */
export function decodeAttention(a: DecodeAttentionArgs): void {
  const { addon } = requireCuda();
  const l = a.pool.layout;
  const group = a.queryHeads / l.kvHeads;
  if (![1, 2, 4, 8].includes(group))
    throw new InvalidArgumentError(
      `decodeAttention: queryHeads (${a.queryHeads}) must be 1, 2, 4 or 8 × kvHeads (${l.kvHeads})`,
    );
  const kernel = a.kernel ?? 'auto';
  if (kernel === 'tensor-core' && !tensorCoreApplies(l, group))
    throw new InvalidArgumentError(
      `decodeAttention: the tensor-core kernel does not handle ${JSON.stringify(l.format)} with pages of ${l.pageTokens} tokens and ${group} query heads per KV head`,
    );
  if (a.partial.bytes < partialBytes(a.batch, a.queryHeads, a.maxPages, a.splitPages)) {
    throw new InvalidArgumentError('decodeAttention: partial scratch too small');
  }
  const args = decodeArgs(a);
  if (l.format.kind === 'higgs') {
    if (kernel === 'scalar')
      throw new InvalidArgumentError('decodeAttention: HIGGS pages have only the tensor-core kernel');
    const f = l.format;
    const [lutK, lutV, signsK, signsV] = a.pool.higgsTables!;
    cuda('decode attention', () =>
      addon.decodeAttnHiggs(
        ...args,
        higgsPairCodeBits(f.keys),
        higgsPairCodeBits(f.values),
        lutK.ptr,
        lutV.ptr,
        signsK.ptr,
        signsV.ptr,
      ),
    );
  } else if (l.format.kind === 'fp16') {
    cuda('decode attention', () =>
      addon.decodeAttnF16(...args, kernel === 'scalar' ? 1 : kernel === 'tensor-core' ? 2 : 0),
    );
  } else {
    const f = l.format;
    cuda('decode attention', () =>
      addon.decodeAttnUniform(
        ...args,
        f.bitsK,
        f.gsK,
        f.bitsV,
        f.gsV,
        kernel === 'scalar' ? 1 : kernel === 'tensor-core' ? 2 : 0,
      ),
    );
  }
}
