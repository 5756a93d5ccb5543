import {
  type BlockShape,
  CorruptFileError,
  type EncodedBlock,
  InvalidArgumentError,
  type QuantizerSpec,
  createQuantizer,
} from '@kvq/core';
import { requireCuda } from './context.js';
import { DeviceBuffer } from './device-buffer.js';
import { cuda } from './errors.js';
import type { DevicePtr } from './native.js';

/**
 * Whether `spec` is encoded/decoded by CUDA kernels. The others (codebook, higgs, outliers) are NOT
 * yet ported: the backend runs them through @kvq/core's CPU quantizers and says so here.
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
    default:
      return false;
  }
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
    default:
      throw new InvalidArgumentError(`cuda: no kernel decodes ${spec.kind}`);
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

/** Encodes on the GPU where a kernel exists, otherwise with the CPU reference quantizer. */
export function encodeBlock(spec: QuantizerSpec, data: Float32Array, shape: BlockShape): EncodedBlock {
  if (!gpuQuantizes(spec, shape)) return createQuantizer(spec).encode(data, shape);
  checkInput(data, shape);
  const { addon } = requireCuda();
  const n = values(shape);
  const C = shape.kvHeads * shape.headDim;
  const bytes = new Uint8Array(encodedBytes(spec, shape));
  if (n === 0) return { shape: { ...shape }, bytes };
  using x = DeviceBuffer.from(data);
  using out = new DeviceBuffer(bytes.length);
  switch (spec.kind) {
    case 'fp16':
    case 'bf16':
      cuda('fp16 encode', () => addon.fp16Encode(x.ptr, out.ptr, n, spec.kind === 'bf16' ? 1 : 0));
      break;
    case 'fp8':
      cuda('fp8 encode', () => addon.fp8Encode(x.ptr, out.ptr, n));
      break;
    case 'uniform':
      cuda('uniform encode', () =>
        addon.uniformEncode(
          x.ptr,
          out.ptr,
          shape.tokens,
          C,
          spec.bits,
          spec.axis === 'token' ? 1 : 0,
          spec.groupSize,
          0,
        ),
      );
      break;
    default:
      throw new InvalidArgumentError(`cuda: no kernel encodes ${spec.kind}`);
  }
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
  using src = DeviceBuffer.from(block.bytes);
  using dst = new DeviceBuffer(out.byteLength);
  decodeOnDevice(spec, shape, src.ptr, dst.ptr);
  return dst.read(out);
}
