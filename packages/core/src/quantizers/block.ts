/**
 * Checks shared by every quantizer: block shapes, input tensors, encoded byte lengths, and
 * little-endian fp16 fields inside encoded bytes.
 */
import { CorruptFileError, InvalidArgumentError, ShapeError } from '../errors.js';
import { FP16_MAX, f32BitsToF16Bits, float16Table } from '../float16.js';
import { assertFinite, assertShape } from '../tensor.js';
import type { BlockShape, EncodedBlock } from './types.js';

/** Channels of a block: `kvHeads × headDim`. */
export function blockChannels(shape: BlockShape): number {
  return shape.kvHeads * shape.headDim;
}

/** Values in a block: `tokens × kvHeads × headDim`. */
export function blockValues(shape: BlockShape): number {
  return shape.tokens * shape.kvHeads * shape.headDim;
}

/** Throws {@link ShapeError} unless every dimension of `shape` is a non-negative integer (heads, dim > 0). */
export function checkBlockShape(what: string, shape: BlockShape): void {
  const { tokens, kvHeads, headDim } = shape ?? ({} as BlockShape);
  const ok =
    Number.isInteger(tokens) &&
    tokens >= 0 &&
    Number.isInteger(kvHeads) &&
    kvHeads > 0 &&
    Number.isInteger(headDim) &&
    headDim > 0 &&
    tokens <= 0x7fffffff;
  if (!ok)
    throw new ShapeError(
      `${what}: block shape`,
      ['tokens ≥ 0', 'kvHeads > 0', 'headDim > 0'],
      [tokens, kvHeads, headDim],
    );
}

/** Validates an input block: Float32Array of `tokens × kvHeads × headDim` finite values. */
export function checkInput(what: string, data: Float32Array, shape: BlockShape): void {
  checkBlockShape(what, shape);
  assertShape(
    `${what} input`,
    data,
    [shape.tokens, shape.kvHeads, shape.headDim],
    [shape.tokens, shape.kvHeads, shape.headDim],
  );
  assertFinite(`${what} input`, data);
}

/**
 * Validates an encoded block before decoding: its shape, its byte length (exactly `expected`,
 * else {@link CorruptFileError}) and `out` (allocated when omitted). Returns the output array.
 */
export function checkEncoded(
  what: string,
  block: EncodedBlock,
  expected: number,
  out?: Float32Array,
): Float32Array {
  checkBlockShape(what, block.shape);
  if (!(block.bytes instanceof Uint8Array))
    throw new CorruptFileError(what, 'encoded bytes are not a Uint8Array');
  if (block.bytes.length !== expected) {
    throw new CorruptFileError(
      what,
      `expected ${expected} bytes for a block of [${block.shape.tokens}, ${block.shape.kvHeads}, ${block.shape.headDim}], got ${block.bytes.length}`,
    );
  }
  const n = blockValues(block.shape);
  if (out === undefined) return new Float32Array(n);
  if (!(out instanceof Float32Array) || out.length !== n) {
    throw new ShapeError(`${what} out`, [n], [out?.length ?? 0]);
  }
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * fp16 bits of a stored scale / zero point / value `x`. Throws {@link InvalidArgumentError}
 * when `x` is outside the fp16 range (it would be stored as Inf).
 */
export function fp16Field(what: string, x: number): number {
  f32[0] = x;
  const h = f32BitsToF16Bits(u32[0]!);
  if ((h & 0x7c00) === 0x7c00) {
    throw new InvalidArgumentError(
      `${what}: ${x} is outside the fp16 range (±${FP16_MAX}) and cannot be stored`,
    );
  }
  return h;
}

/** Writes fp16 bits `h` little-endian at `bytes[offset]`. */
export function writeU16(bytes: Uint8Array, offset: number, h: number): void {
  bytes[offset] = h & 0xff;
  bytes[offset + 1] = (h >>> 8) & 0xff;
}

/** Reads a little-endian u16 at `bytes[offset]`. */
export function readU16(bytes: Uint8Array, offset: number): number {
  return bytes[offset]! | (bytes[offset + 1]! << 8);
}

/** Reads a finite fp16 field at `bytes[offset]`; NaN/Inf there means the bytes are corrupt. */
export function readFp16Field(what: string, bytes: Uint8Array, offset: number): number {
  const h = bytes[offset]! | (bytes[offset + 1]! << 8);
  if ((h & 0x7c00) === 0x7c00)
    throw new CorruptFileError(what, `non-finite fp16 field 0x${h.toString(16)} at byte ${offset}`);
  return float16Table()[h]!;
}
