/**
 * Encode/decode of one block on the GPU for the quantizers implemented in WGSL: fp16, bf16,
 * fp8 (e4m3) and uniform. Buffers in, buffers out; `status` collects error bits (out-of-range
 * input on encode, corrupt fields on decode) for the caller to read back.
 */
import type { BlockShape, QuantizerSpec } from '@kvq/core';
import {
  UnsupportedOpError,
  codebookLevels,
  createQuantizer,
  gaussianGrid2d,
  lloydMaxGaussian,
  midpoints,
  randomSigns,
} from '@kvq/core';
import type { BufferScope, GpuBuffer } from '../buffer.js';
import { codebookCodesWgsl, codebookDecodeWgsl, codebookScalesWgsl } from '../kernels/codebook.wgsl.js';
import { fp8DecodeWgsl, fp8EncodeWgsl } from '../kernels/fp8.wgsl.js';
import { HIGGS_MAX_BLOCK, higgsDecodeWgsl, higgsEncodeWgsl } from '../kernels/higgs.wgsl.js';
import { OUTLIERS_MAX_K, outlierScatterWgsl, outlierSelectWgsl } from '../kernels/outliers.wgsl.js';
import { packWgsl } from '../kernels/pack.wgsl.js';
import { passthroughDecodeWgsl, passthroughEncodeWgsl } from '../kernels/passthrough.wgsl.js';
import { uniformDecodeWgsl } from '../kernels/uniform-decode.wgsl.js';
import { uniformPackWgsl, uniformStatsWgsl } from '../kernels/uniform-encode.wgsl.js';
import type { Recorder } from './recorder.js';

/** Quantizer kinds with WGSL encode and decode kernels. */
export const GPU_QUANTIZER_KINDS = [
  'fp16',
  'bf16',
  'fp8',
  'uniform',
  'codebook',
  'higgs',
  'outliers',
] as const;

/** Whether `spec` has WGSL kernels here (higgs blocks ≤ 1024, outlier counts ≤ 64, nested kinds too). */
export function gpuSupportsSpec(spec: QuantizerSpec): boolean {
  if (spec.kind === 'higgs') return spec.block <= HIGGS_MAX_BLOCK;
  if (spec.kind === 'outliers') return spec.count <= OUTLIERS_MAX_K && gpuSupportsSpec(spec.inner);
  return (GPU_QUANTIZER_KINDS as readonly string[]).includes(spec.kind);
}

function f32(a: ArrayLike<number>): Float32Array {
  return a.length ? Float32Array.from(a) : new Float32Array(1);
}

/** Records the generic packer: `halves` (u32 per fp16 field) then `codes` (u32 per code) into `out`. */
function recordPack(
  rec: Recorder,
  bits: number,
  halves: GpuBuffer,
  nHalves: number,
  codes: GpuBuffer,
  nCodes: number,
  out: GpuBuffer,
  bytes: number,
): void {
  const nWords = Math.ceil(bytes / 4);
  rec.dispatchThreads(
    `pack:${bits}`,
    () => packWgsl(bits),
    [nHalves, nCodes, nWords],
    [halves, codes, out],
    nWords,
  );
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
    case 'codebook': {
      const nGroups = uniformGroups(spec, shape);
      const key = `${spec.bits}:${spec.axis}:${spec.groupSize}:${spec.norm}`;
      const fields = spec.norm === 'meanrms' ? 2 : 1;
      const scales = scope.create(fields * nGroups * 4, 'codebook scales');
      const codes = scope.create(n * 4, 'codebook codes');
      const levels = codebookLevels(spec);
      const mids = scope.upload(f32(midpoints(levels)), 'codebook midpoints');
      rec.dispatchThreads(
        `enc:cbs:${key}`,
        () => codebookScalesWgsl(spec),
        [T, C, nGroups],
        [x, scales, status],
        nGroups,
      );
      rec.dispatchThreads(
        `enc:cbc:${key}`,
        () => codebookCodesWgsl(spec),
        [T, C, levels.length, nGroups],
        [x, scales, mids, codes],
        n,
      );
      recordPack(
        rec,
        spec.bits,
        scales,
        fields * nGroups,
        codes,
        n,
        out,
        createQuantizer(spec).encodedBytes(shape),
      );
      return;
    }
    case 'higgs': {
      const B = spec.block;
      if (B > HIGGS_MAX_BLOCK)
        throw new UnsupportedOpError('webgpu', `higgs encode with block ${B} > ${HIGGS_MAX_BLOCK}`);
      const q = createQuantizer(spec);
      const nScales = (T * C) / B;
      const nCodes = spec.dim === 1 ? n : n / 2;
      const codeBits = spec.dim === 1 ? spec.bits : Math.round(2 * spec.bits);
      const table =
        spec.dim === 1 ? f32(midpoints(lloydMaxGaussian(spec.bits))) : f32(gaussianGrid2d(spec.bits));
      const nTable = spec.dim === 1 ? table.length : table.length / 2;
      const signs = scope.upload(randomSigns(spec.seed, B), 'higgs signs');
      const tb = scope.upload(table, 'higgs table');
      const scales = scope.create(nScales * 4, 'higgs scales');
      const codes = scope.create(nCodes * 4, 'higgs codes');
      rec.dispatch(
        `enc:higgs:${B}:${spec.dim}`,
        () => higgsEncodeWgsl(B, spec.dim),
        [T, C, { f32: Math.fround(1 / Math.sqrt(B)) }, nTable],
        [x, signs, tb, scales, codes, status],
        [C / B, T],
      );
      recordPack(rec, codeBits, scales, nScales, codes, nCodes, out, q.encodedBytes(shape));
      return;
    }
    case 'outliers': {
      const len = spec.axis === 'token' ? C : T;
      const rows = spec.axis === 'token' ? T : C;
      const k = Math.min(spec.count, len);
      if (k > OUTLIERS_MAX_K)
        throw new UnsupportedOpError('webgpu', `outliers encode with count ${k} > ${OUTLIERS_MAX_K}`);
      const N = rows * k;
      const xz = scope.create(n * 4, 'outliers zeroed input');
      rec.copy(x, xz, n * 4);
      const halves = scope.create(Math.max(1, 2 * N) * 4, 'outlier fields');
      const idx = scope.create(Math.max(1, N) * 4, 'outlier indices');
      if (N > 0) {
        rec.dispatchThreads(
          `enc:outsel:${spec.axis}`,
          () => outlierSelectWgsl(spec.axis),
          [T, C, k],
          [x, xz, halves, idx, status],
          rows,
        );
        rec.copy(idx, halves, N * 4, 0, N * 4);
        const none = scope.create(4, 'no codes');
        recordPack(rec, 1, halves, 2 * N, none, 0, out, 4 * N);
      }
      const innerBytes = createQuantizer(spec.inner).encodedBytes(shape);
      const inner = scope.create(innerBytes, 'outliers inner block');
      recordEncode(rec, scope, spec.inner, shape, xz, inner, status);
      rec.copy(inner, out, innerBytes, 0, 4 * N);
      return;
    }
    default:
      throw new UnsupportedOpError('webgpu', `encode of quantizer kind "${(spec as { kind: string }).kind}"`);
  }
}

/** Records the decode of block words `blk` into `out` (f32 [T·C]). */
export function recordDecode(
  rec: Recorder,
  scope: BufferScope,
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
    case 'codebook': {
      const nGroups = uniformGroups(spec, shape);
      const levels = scope.upload(f32(codebookLevels(spec)), 'codebook levels');
      rec.dispatchThreads(
        `dec:cb:${spec.bits}:${spec.axis}:${spec.groupSize}:${spec.norm}`,
        () => codebookDecodeWgsl(spec),
        [T, C, nGroups],
        [blk, levels, out, status],
        n,
      );
      return;
    }
    case 'higgs': {
      const B = spec.block;
      if (B > HIGGS_MAX_BLOCK)
        throw new UnsupportedOpError('webgpu', `higgs decode with block ${B} > ${HIGGS_MAX_BLOCK}`);
      const codeBits = spec.dim === 1 ? spec.bits : Math.round(2 * spec.bits);
      const table = spec.dim === 1 ? f32(lloydMaxGaussian(spec.bits)) : f32(gaussianGrid2d(spec.bits));
      const signs = scope.upload(randomSigns(spec.seed, B), 'higgs signs');
      const tb = scope.upload(table, 'higgs table');
      rec.dispatch(
        `dec:higgs:${B}:${spec.dim}:${codeBits}`,
        () => higgsDecodeWgsl(B, spec.dim, codeBits),
        [T, C, { f32: Math.fround(1 / Math.sqrt(B)) }],
        [blk, signs, tb, out, status],
        [C / B, T],
      );
      return;
    }
    case 'outliers': {
      const len = spec.axis === 'token' ? C : T;
      const rows = spec.axis === 'token' ? T : C;
      const k = Math.min(spec.count, len);
      const N = rows * k;
      const innerBytes = createQuantizer(spec.inner).encodedBytes(shape);
      const inner = scope.create(innerBytes, 'outliers inner block');
      rec.copy(blk, inner, innerBytes, 4 * N, 0);
      recordDecode(rec, scope, spec.inner, shape, inner, out, status);
      if (N > 0) {
        rec.dispatchThreads(
          `dec:outsc:${spec.axis}`,
          () => outlierScatterWgsl(spec.axis),
          [T, C, k, N],
          [blk, out, status],
          N,
        );
      }
      return;
    }
    default:
      throw new UnsupportedOpError('webgpu', `decode of quantizer kind "${(spec as { kind: string }).kind}"`);
  }
}
