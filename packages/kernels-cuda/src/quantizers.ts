import {
  type BlockShape,
  CodebookQuantizer,
  type CodebookSpec,
  CorruptFileError,
  type EncodedBlock,
  type HiggsSpec,
  InvalidArgumentError,
  type QuantizerSpec,
  createQuantizer,
  gaussianGrid2d,
  lloydMaxGaussian,
  midpoints,
  nearestLevel,
  nearestPoint2d,
  randomSigns,
} from '@kvq/core';
import { requireCuda } from './context.js';
import { DeviceBuffer } from './device-buffer.js';
import { cuda } from './errors.js';
import type { DevicePtr } from './native.js';

/** Largest Hadamard block of the CUDA HIGGS kernels (a block is one thread block's shared memory). */
export const HIGGS_MAX_BLOCK = 4096;

/** Most outliers per list (token or channel) the CUDA outlier kernel keeps. */
export const OUTLIERS_MAX_COUNT = 64;

/**
 * Whether `spec` is encoded/decoded by CUDA kernels: fp16, bf16, fp8, uniform, codebook, HIGGS
 * with Hadamard blocks up to {@link HIGGS_MAX_BLOCK}, and outliers (up to
 * {@link OUTLIERS_MAX_COUNT} per list) around an inner quantizer that runs in CUDA. Anything else
 * runs through @kvq/core's CPU quantizer.
 */
export function gpuQuantizes(spec: QuantizerSpec, shape: BlockShape): boolean {
  const C = shape.kvHeads * shape.headDim;
  switch (spec.kind) {
    case 'fp16':
    case 'bf16':
    case 'fp8':
      return true;
    case 'uniform':
      return (
        C % 8 === 0 && (spec.axis === 'channel' || (C % spec.groupSize === 0 && spec.groupSize % 8 === 0))
      );
    case 'codebook':
      return spec.axis === 'channel' || C % spec.groupSize === 0;
    case 'higgs':
      return spec.block >= 2 && spec.block <= HIGGS_MAX_BLOCK && C % spec.block === 0;
    case 'outliers':
      return (
        spec.count <= OUTLIERS_MAX_COUNT &&
        (spec.axis === 'token' ? C : shape.tokens) <= 65536 &&
        gpuQuantizes(spec.inner, shape)
      );
    default:
      return false;
  }
}

/** Constant tables of a HIGGS spec, as the CPU quantizer derives them (FORMAT.md "higgs"). */
function higgsTables(spec: HiggsSpec) {
  const signs = randomSigns(spec.seed, spec.block);
  const norm = Math.fround(1 / Math.sqrt(spec.block));
  if (spec.dim === 1) {
    const levels = lloydMaxGaussian(spec.bits);
    const mids = midpoints(levels);
    return {
      table: levels,
      count: levels.length,
      mids,
      signs,
      norm,
      codeBits: spec.bits,
      zero: nearestLevel(mids, 0),
    };
  }
  const grid = gaussianGrid2d(spec.bits);
  return {
    table: grid,
    count: grid.length / 2,
    mids: null,
    signs,
    norm,
    codeBits: Math.round(2 * spec.bits),
    zero: nearestPoint2d(grid, 0, 0),
  };
}

const NORM_CODE = { absmax: 0, rms: 1, meanrms: 2 } as const;

/** Levels and midpoints of a codebook spec (the CPU quantizer's). */
function codebookTables(spec: CodebookSpec) {
  const levels = new CodebookQuantizer(spec).levels;
  const mids = midpoints(levels);
  return { levels, mids, zero: nearestLevel(mids, 0), norm: NORM_CODE[spec.norm] };
}

/** The scale (and mean) fields of a block must be finite and not negative, as the CPU decoder checks. */
function checkScaleFields(what: string, bytes: Uint8Array, count: number, scalesOnly: number): void {
  for (let g = 0; g < count; g++) {
    const h = bytes[2 * g]! | (bytes[2 * g + 1]! << 8);
    if ((h & 0x7c00) === 0x7c00)
      throw new CorruptFileError(what, `non-finite fp16 field 0x${h.toString(16)} at byte ${2 * g}`);
    if (g < scalesOnly && h & 0x8000 && h & 0x7fff)
      throw new CorruptFileError(what, `negative scale in field ${g}`);
  }
}

/** Host-side checks of an encoded block's fp16 fields and outlier lists (the CPU decoder's). */
function checkFields(spec: QuantizerSpec, shape: BlockShape, bytes: Uint8Array): void {
  if (spec.kind === 'outliers') {
    const { k, N, lists, range } = outlierGeometry(spec, shape);
    for (let list = 0; list < lists; list++) {
      let prev = -1;
      for (let r = 0; r < k; r++) {
        const e = list * k + r;
        const i = bytes[2 * N + 2 * e]! | (bytes[2 * N + 2 * e + 1]! << 8);
        if (i >= range || i <= prev)
          throw new CorruptFileError(
            'outliers block',
            `outlier index ${i} in list ${list} is out of range (< ${range}) or not ascending`,
          );
        prev = i;
        const h = bytes[2 * e]! | (bytes[2 * e + 1]! << 8);
        if ((h & 0x7c00) === 0x7c00)
          throw new CorruptFileError('outliers block value', `non-finite fp16 field 0x${h.toString(16)}`);
      }
    }
    checkFields(spec.inner, shape, bytes.subarray(4 * N));
    return;
  }
  const { fields, scales } = fieldCounts(spec, shape);
  if (fields > 0) checkScaleFields(`${spec.kind} block`, bytes, fields, scales);
}

function fieldCounts(spec: QuantizerSpec, shape: BlockShape): { fields: number; scales: number } {
  const C = shape.kvHeads * shape.headDim;
  if (spec.kind === 'higgs') {
    const n = (shape.tokens * C) / spec.block;
    return { fields: n, scales: n };
  }
  if (spec.kind === 'codebook') {
    const groups =
      spec.axis === 'token'
        ? shape.tokens * (C / spec.groupSize)
        : Math.ceil(shape.tokens / spec.groupSize) * C;
    return { fields: spec.norm === 'meanrms' ? 2 * groups : groups, scales: groups };
  }
  return { fields: 0, scales: 0 };
}

function values(shape: BlockShape): number {
  return shape.tokens * shape.kvHeads * shape.headDim;
}

/** Decodes `block` (already on the device at `src`) into fp32 at device address `dst`. */
export function decodeOnDevice(spec: QuantizerSpec, shape: BlockShape, src: DevicePtr, dst: DevicePtr): void {
  const { addon } = requireCuda();
  const n = values(shape);
  const C = shape.kvHeads * shape.headDim;
  switch (spec.kind) {
    case 'fp16':
    case 'bf16':
      cuda('fp16 decode', () => addon.fp16Decode(src, dst, n, spec.kind === 'bf16' ? 1 : 0));
      return;
    case 'fp8':
      cuda('fp8 decode', () => addon.fp8Decode(src, dst, n));
      return;
    case 'uniform':
      cuda('uniform decode', () =>
        addon.uniformDecode(
          src,
          dst,
          shape.tokens,
          C,
          spec.bits,
          spec.axis === 'token' ? 1 : 0,
          spec.groupSize,
          0,
        ),
      );
      return;
    case 'higgs': {
      const tb = higgsTables(spec);
      using table = DeviceBuffer.from(tb.table);
      using signs = DeviceBuffer.from(tb.signs);
      cuda('higgs decode', () =>
        addon.higgsDecode(
          src,
          dst,
          shape.tokens,
          C,
          spec.block,
          spec.dim,
          tb.codeBits,
          table.ptr,
          signs.ptr,
          tb.norm,
        ),
      );
      return;
    }
    case 'codebook': {
      const tb = codebookTables(spec);
      using levels = DeviceBuffer.from(tb.levels);
      cuda('codebook decode', () =>
        addon.codebookDecode(
          src,
          dst,
          shape.tokens,
          C,
          spec.bits,
          spec.axis === 'token' ? 1 : 0,
          spec.groupSize,
          tb.norm,
          levels.ptr,
        ),
      );
      return;
    }
    case 'outliers': {
      const { k, N } = outlierGeometry(spec, shape);
      // the inner block starts 4·N bytes in; the kernels want 16-byte aligned blocks, so it is
      // decoded from an aligned copy
      const innerBytes = encodedBytes(spec.inner, shape);
      using inner = new DeviceBuffer(Math.max(1, innerBytes));
      cuda('cudaMemcpy D2D', () => addon.d2d(inner.ptr, src + BigInt(4 * N), innerBytes));
      decodeOnDevice(spec.inner, shape, inner.ptr, dst);
      cuda('outliers scatter', () =>
        addon.outliersScatter(src, dst, shape.tokens, C, spec.axis === 'token' ? 1 : 0, k),
      );
      return;
    }
    default:
      throw new InvalidArgumentError(`cuda: no kernel decodes ${(spec as QuantizerSpec).kind}`);
  }
}

/** Exact encoded bytes of a block (same as the CPU quantizer's). */
export function encodedBytes(spec: QuantizerSpec, shape: BlockShape): number {
  return createQuantizer(spec).encodedBytes(shape);
}

function checkInput(data: Float32Array, shape: BlockShape): void {
  const n = values(shape);
  if (data.length !== n)
    throw new InvalidArgumentError(`cuda encode: expected ${n} values, got ${data.length}`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(data[i]!)) throw new InvalidArgumentError(`cuda encode: non-finite value at ${i}`);
  }
}

/** The kernels set a device flag where a value cannot be stored in fp16; the CPU quantizer throws there. */
function throwIfFlagged(err: DeviceBuffer, message: string): void {
  if (err.read(new Int32Array(1))[0]) throw new InvalidArgumentError(message);
}

/** Outliers per list and in all, as the CPU quantizer lays them out. */
function outlierGeometry(spec: Extract<QuantizerSpec, { kind: 'outliers' }>, shape: BlockShape) {
  const C = shape.kvHeads * shape.headDim;
  const range = spec.axis === 'token' ? C : shape.tokens;
  const lists = spec.axis === 'token' ? shape.tokens : C;
  const k = Math.min(spec.count, range);
  return { k, N: k * lists, lists, range };
}

/**
 * Encodes fp32 `[T, C]` at device address `x` into the block format at device address `out`
 * (`encodedBytes(spec, shape)` bytes), for a spec {@link gpuQuantizes} accepts.
 */
export function encodeOnDevice(spec: QuantizerSpec, shape: BlockShape, x: DevicePtr, out: DevicePtr): void {
  const { addon } = requireCuda();
  const n = values(shape);
  const C = shape.kvHeads * shape.headDim;
  if (n === 0) return;
  switch (spec.kind) {
    case 'fp16':
    case 'bf16':
      cuda('fp16 encode', () => addon.fp16Encode(x, out, n, spec.kind === 'bf16' ? 1 : 0));
      break;
    case 'fp8':
      cuda('fp8 encode', () => addon.fp8Encode(x, out, n));
      break;
    case 'uniform':
      cuda('uniform encode', () =>
        addon.uniformEncode(
          x,
          out,
          shape.tokens,
          C,
          spec.bits,
          spec.axis === 'token' ? 1 : 0,
          spec.groupSize,
          0,
        ),
      );
      break;
    case 'higgs': {
      const tb = higgsTables(spec);
      using table = DeviceBuffer.from(tb.table);
      using mids = tb.mids ? DeviceBuffer.from(tb.mids) : undefined;
      using signs = DeviceBuffer.from(tb.signs);
      using codes = new DeviceBuffer(2 * (spec.dim === 1 ? n : n / 2));
      using err = DeviceBuffer.from(new Int32Array(1));
      cuda('higgs encode', () =>
        addon.higgsEncode(
          x,
          out,
          codes.ptr,
          shape.tokens,
          C,
          spec.block,
          spec.dim,
          tb.codeBits,
          table.ptr,
          tb.count,
          mids?.ptr ?? null,
          signs.ptr,
          tb.norm,
          spec.scaleGain ?? 1,
          tb.zero,
          err.ptr,
        ),
      );
      throwIfFlagged(err, 'higgs scale: a block RMS is outside the fp16 range and cannot be stored');
      break;
    }
    case 'codebook': {
      const tb = codebookTables(spec);
      using mids = DeviceBuffer.from(tb.mids);
      using codes = new DeviceBuffer(2 * n);
      using err = DeviceBuffer.from(new Int32Array(1));
      cuda('codebook encode', () =>
        addon.codebookEncode(
          x,
          out,
          codes.ptr,
          shape.tokens,
          C,
          spec.bits,
          spec.axis === 'token' ? 1 : 0,
          spec.groupSize,
          tb.norm,
          mids.ptr,
          tb.zero,
          err.ptr,
        ),
      );
      throwIfFlagged(
        err,
        'codebook scale: a group scale or mean is outside the fp16 range and cannot be stored',
      );
      break;
    }
    case 'outliers': {
      const { k, N } = outlierGeometry(spec, shape);
      using work = new DeviceBuffer(4 * n);
      using err = DeviceBuffer.from(new Int32Array(1));
      cuda('outliers select', () =>
        addon.outliersSelect(x, out, work.ptr, shape.tokens, C, spec.axis === 'token' ? 1 : 0, k, err.ptr),
      );
      throwIfFlagged(err, 'outlier value: an outlier is outside the fp16 range and cannot be stored');
      // encoded into an aligned buffer (the kernels want 16-byte aligned blocks), then placed at 4·N
      const innerBytes = encodedBytes(spec.inner, shape);
      using inner = new DeviceBuffer(Math.max(1, innerBytes));
      encodeOnDevice(spec.inner, shape, work.ptr, inner.ptr);
      cuda('cudaMemcpy D2D', () => addon.d2d(out + BigInt(4 * N), inner.ptr, innerBytes));
      break;
    }
    default:
      throw new InvalidArgumentError(`cuda: no kernel encodes ${(spec as QuantizerSpec).kind}`);
  }
}

/** Encodes on the GPU where a kernel exists, otherwise with the CPU reference quantizer. */
export function encodeBlock(spec: QuantizerSpec, data: Float32Array, shape: BlockShape): EncodedBlock {
  if (!gpuQuantizes(spec, shape)) return createQuantizer(spec).encode(data, shape);
  checkInput(data, shape);
  const bytes = new Uint8Array(encodedBytes(spec, shape));
  if (values(shape) === 0) return { shape: { ...shape }, bytes };
  using x = DeviceBuffer.from(data);
  using out = new DeviceBuffer(bytes.length);
  encodeOnDevice(spec, shape, x.ptr, out.ptr);
  out.read(bytes);
  return { shape: { ...shape }, bytes };
}

/** Decodes on the GPU where a kernel exists, otherwise with the CPU reference quantizer. */
export function decodeBlock(spec: QuantizerSpec, block: EncodedBlock): Float32Array {
  const shape = block.shape;
  if (!gpuQuantizes(spec, shape)) return createQuantizer(spec).decode(block);
  const want = encodedBytes(spec, shape);
  if (block.bytes.length !== want) {
    throw new CorruptFileError(`${spec.kind} block`, `expected ${want} bytes, got ${block.bytes.length}`);
  }
  const out = new Float32Array(values(shape));
  if (out.length === 0) return out;
  checkFields(spec, shape, block.bytes);
  using src = DeviceBuffer.from(block.bytes);
  using dst = new DeviceBuffer(out.byteLength);
  decodeOnDevice(spec, shape, src.ptr, dst.ptr);
  return dst.read(out);
}
