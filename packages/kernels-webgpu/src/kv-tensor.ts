/**
 * GpuKvTensor: the keys (or values) of a batch of sequences kept on the GPU in their encoded form,
 * `[batch][blocks of blockTokens tokens][encoded block bytes, padded to 4]`, readable by the fused
 * decode attention kernel without a dequantized copy.
 */
import type { EncodedBlock, QuantizerSpec } from '@kvq/core';
import {
  InvalidArgumentError,
  ShapeError,
  UnsupportedOpError,
  createQuantizer,
  gaussianGrid2d,
  lloydMaxGaussian,
  randomSigns,
} from '@kvq/core';
import { GpuBuffer } from './buffer.js';
import type { GpuContext } from './context.js';
import type { KvTileFormat } from './kernels/decode-attention.wgsl.js';
import { uniformGroups } from './ops/quantize.js';

/** Shape of a batched K or V tensor. */
export interface KvTensorShape {
  readonly batch: number;
  /** tokens per sequence (a multiple of blockTokens) */
  readonly tokens: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** tokens per encoded block */
  readonly blockTokens: number;
}

/** Byte size of one encoded block of this shape, padded to 4. */
export function paddedBlockBytes(spec: QuantizerSpec, s: KvTensorShape): number {
  const raw = createQuantizer(spec).encodedBytes({
    tokens: s.blockTokens,
    kvHeads: s.kvHeads,
    headDim: s.headDim,
  });
  return Math.ceil(raw / 4) * 4;
}

/** The fused kernel's view of a spec; throws {@link UnsupportedOpError} for kinds it cannot read. */
export function tileFormat(spec: QuantizerSpec, s: KvTensorShape): KvTileFormat {
  switch (spec.kind) {
    case 'fp16':
      return { kind: 'f16' };
    case 'fp8':
      return { kind: 'fp8' };
    case 'uniform': {
      const shape = { tokens: s.blockTokens, kvHeads: s.kvHeads, headDim: s.headDim };
      return {
        kind: 'uniform',
        bits: spec.bits,
        axis: spec.axis,
        groupSize: spec.groupSize,
        blockTokens: s.blockTokens,
        nGroups: uniformGroups(spec, shape),
        blockWords: paddedBlockBytes(spec, s) / 4,
      };
    }
    case 'higgs': {
      if (spec.block !== s.headDim) {
        throw new UnsupportedOpError(
          'webgpu',
          `fused decode attention over higgs blocks of ${spec.block} channels (needs the Hadamard block = headDim ${s.headDim})`,
        );
      }
      const codeBits = Math.round(2 * spec.bits);
      if (codeBits > 8) {
        throw new UnsupportedOpError(
          'webgpu',
          `fused decode attention over ${spec.bits}-bit higgs codes (≤ 4 bits)`,
        );
      }
      const heads = s.blockTokens * s.kvHeads;
      if (heads % 2 !== 0) {
        throw new UnsupportedOpError(
          'webgpu',
          'fused decode attention over higgs blocks whose codes are not word-aligned (blockTokens × kvHeads odd)',
        );
      }
      return {
        kind: 'higgs',
        dim: spec.dim,
        bits: spec.bits,
        codeBits,
        block: spec.block,
        blockTokens: s.blockTokens,
        blockWords: paddedBlockBytes(spec, s) / 4,
        scaleWords: heads / 2,
        table: higgsPairTable(spec.dim, spec.bits),
        signs: randomSigns(spec.seed, spec.block),
      };
    }
    default:
      throw new UnsupportedOpError('webgpu', `fused decode attention over "${spec.kind}" blocks`);
  }
}

/**
 * The point of every HIGGS pair code, interleaved `[x0, y0, x1, y1, …]`: the 2-D grid itself, or
 * for scalar levels the pair `(level[c & mask], level[c >> bits])` (two codes packed LSB first).
 */
export function higgsPairTable(dim: 1 | 2, bits: number): Float32Array {
  if (dim === 2) return gaussianGrid2d(bits);
  const levels = lloydMaxGaussian(bits);
  const n = levels.length;
  const out = new Float32Array(2 * n * n);
  for (let c = 0; c < n * n; c++) {
    out[2 * c] = levels[c & (n - 1)]!;
    out[2 * c + 1] = levels[c >> bits]!;
  }
  return out;
}

/** Encoded K or V of a batch on the GPU. Owns its buffer. */
export class GpuKvTensor implements Disposable {
  readonly spec: QuantizerSpec;
  readonly shape: KvTensorShape;
  readonly buffer: GpuBuffer;
  /** bytes of one padded block */
  readonly blockBytes: number;
  readonly blocksPerSequence: number;

  /** Allocates an (uninitialized) tensor. */
  constructor(ctx: GpuContext, spec: QuantizerSpec, shape: KvTensorShape, label = 'kv tensor') {
    const { batch, tokens, blockTokens } = shape;
    for (const [k, v] of Object.entries(shape)) {
      if (!Number.isInteger(v) || v <= 0)
        throw new InvalidArgumentError(`${label}: ${k} must be a positive integer, got ${v}`);
    }
    if (tokens % blockTokens !== 0) {
      throw new InvalidArgumentError(
        `${label}: tokens (${tokens}) must be a multiple of blockTokens (${blockTokens})`,
      );
    }
    this.spec = spec;
    this.shape = { ...shape };
    this.blockBytes = paddedBlockBytes(spec, shape);
    if (spec.kind === 'bf16' || spec.kind === 'fp16' || spec.kind === 'fp8') {
      // contiguous token-major values: no padding may appear between blocks
      const raw = createQuantizer(spec).encodedBytes({
        tokens: blockTokens,
        kvHeads: shape.kvHeads,
        headDim: shape.headDim,
      });
      if (raw !== this.blockBytes)
        throw new InvalidArgumentError(`${label}: blocks of ${raw} bytes are not 4-byte aligned`);
    }
    this.blocksPerSequence = tokens / blockTokens;
    this.buffer = new GpuBuffer(ctx, batch * this.blocksPerSequence * this.blockBytes, undefined, label);
  }

  /** Uploads host blocks (`blocks[b][j]`, as `Quantizer.encode` returns them) into a new tensor. */
  static fromBlocks(
    ctx: GpuContext,
    spec: QuantizerSpec,
    shape: KvTensorShape,
    blocks: readonly (readonly EncodedBlock[])[],
  ): GpuKvTensor {
    const t = new GpuKvTensor(ctx, spec, shape);
    try {
      if (blocks.length !== shape.batch) throw new ShapeError('blocks', [shape.batch], [blocks.length]);
      blocks.forEach((seq, b) => {
        if (seq.length !== t.blocksPerSequence)
          throw new ShapeError(`blocks[${b}]`, [t.blocksPerSequence], [seq.length]);
        seq.forEach((blk, j) => {
          if (blk.shape.tokens !== shape.blockTokens) {
            throw new ShapeError(`blocks[${b}][${j}] tokens`, [shape.blockTokens], [blk.shape.tokens]);
          }
          t.buffer.write(blk.bytes, t.blockOffset(b, j));
        });
      });
      return t;
    } catch (err) {
      t.dispose();
      throw err;
    }
  }

  /** Byte offset of block j of sequence b. */
  blockOffset(b: number, j: number): number {
    return (b * this.blocksPerSequence + j) * this.blockBytes;
  }

  /** The fused kernel's view of this tensor. */
  tileFormat(): KvTileFormat {
    return tileFormat(this.spec, this.shape);
  }

  /** Bits per value as stored (padding included). */
  storedBitsPerValue(): number {
    const s = this.shape;
    return (this.blockBytes * 8) / (s.blockTokens * s.kvHeads * s.headDim);
  }

  dispose(): void {
    this.buffer.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}
