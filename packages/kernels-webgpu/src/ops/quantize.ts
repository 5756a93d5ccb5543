/**
 * Encode/decode of one block on the GPU for the quantizers implemented in WGSL: fp16, bf16,
 * fp8 (e4m3) and uniform. Buffers in, buffers out; `status` collects error bits (out-of-range
 * input on encode, corrupt fields on decode) for the caller to read back.
 */
import type { BlockShape, QuantizerSpec } from '@kvq/core';
import { UnsupportedOpError } from '@kvq/core';
import type { BufferScope, GpuBuffer } from '../buffer.js';
import { fp8DecodeWgsl, fp8EncodeWgsl } from '../kernels/fp8.wgsl.js';
import { passthroughDecodeWgsl, passthroughEncodeWgsl } from '../kernels/passthrough.wgsl.js';
import { uniformDecodeWgsl } from '../kernels/uniform-decode.wgsl.js';
import { uniformPackWgsl, uniformStatsWgsl } from '../kernels/uniform-encode.wgsl.js';
import type { Recorder } from './recorder.js';

/** Quantizer kinds with WGSL encode and decode kernels. */
export const GPU_QUANTIZER_KINDS = ['fp16', 'bf16', 'fp8', 'uniform'] as const;

/** Whether `spec` has WGSL kernels here. */
export function gpuSupportsSpec(spec: QuantizerSpec): boolean {
  return (GPU_QUANTIZER_KINDS as readonly string[]).includes(spec.kind);
}

/** Number of groups of a uniform block. */
export function uniformGroups(
  spec: { axis: 'channel' | 'token'; groupSize: number },
  shape: BlockShape,
): number {
  const C = shape.kvHeads * shape.headDim;
  return spec.axis === 'channel'
    ? Math.ceil(shape.tokens / spec.groupSize) * C
    : shape.tokens * (C / spec.groupSize);
}

/** Records the encode of `x` (f32 [T·C]) into `out` (u32 words of the encoded block). */
export function recordEncode(
  rec: Recorder,
  scope: BufferScope,
  spec: QuantizerSpec,
  shape: BlockShape,
  x: GpuBuffer,
  out: GpuBuffer,
  status: GpuBuffer,
): void {
  const T = shape.tokens;
  const C = shape.kvHeads * shape.headDim;
  const n = T * C;
  switch (spec.kind) {
    case 'fp16':
    case 'bf16':
      rec.dispatchThreads(
        `enc:${spec.kind}`,
        () => passthroughEncodeWgsl(spec.kind),
        [n],
        [x, out, status],
        Math.ceil(n / 2),
      );
      return;
    case 'fp8':
      rec.dispatchThreads('enc:fp8', fp8EncodeWgsl, [n], [x, out], Math.ceil(n / 4));
      return;
    case 'uniform': {
      const nGroups = uniformGroups(spec, shape);
      const stats = scope.create(nGroups * 4, 'uniform stats');
      const key = `${spec.bits}:${spec.axis}:${spec.groupSize}`;
      rec.dispatchThreads(
        `enc:ustats:${key}`,
        () => uniformStatsWgsl(spec),
        [T, C, nGroups],
        [x, stats, status],
        nGroups,
      );
      const nWords = nGroups + Math.ceil((n * spec.bits) / 32);
      rec.dispatchThreads(
        `enc:upack:${key}`,
        () => uniformPackWgsl(spec),
        [T, C, nGroups, nWords],
        [x, stats, out],
        nWords,
      );
      return;
    }
    default:
      throw new UnsupportedOpError('webgpu', `encode of quantizer kind "${spec.kind}"`);
  }
}

/** Records the decode of block words `blk` into `out` (f32 [T·C]). */
export function recordDecode(
  rec: Recorder,
  spec: QuantizerSpec,
  shape: BlockShape,
  blk: GpuBuffer,
  out: GpuBuffer,
  status: GpuBuffer,
): void {
  const T = shape.tokens;
  const C = shape.kvHeads * shape.headDim;
  const n = T * C;
  switch (spec.kind) {
    case 'fp16':
    case 'bf16':
      rec.dispatchThreads(
        `dec:${spec.kind}`,
        () => passthroughDecodeWgsl(spec.kind),
        [n],
        [blk, out, status],
        Math.ceil(n / 2),
      );
      return;
    case 'fp8':
      rec.dispatchThreads('dec:fp8', fp8DecodeWgsl, [n], [blk, out, status], Math.ceil(n / 4));
      return;
    case 'uniform': {
      const nGroups = uniformGroups(spec, shape);
      rec.dispatchThreads(
        `dec:u:${spec.bits}:${spec.axis}:${spec.groupSize}`,
        () => uniformDecodeWgsl(spec),
        [T, C, nGroups],
        [blk, out, status],
        n,
      );
      return;
    }
    default:
      throw new UnsupportedOpError('webgpu', `decode of quantizer kind "${spec.kind}"`);
  }
}
