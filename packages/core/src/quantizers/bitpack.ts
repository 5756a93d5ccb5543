/**
 * Bit packing shared by every backend: code `i` of a stream of `bits`-bit codes occupies bits
 * `[i·bits, (i+1)·bits)` of the byte stream, least significant bit first within each byte
 * (little-endian bit order); the stream is padded with zero bits to a whole byte.
 */
import { CorruptFileError, InvalidArgumentError, ShapeError } from '../errors.js';

/** Bytes of a stream of `count` codes of `bits` bits: `ceil(count · bits / 8)`. */
export function packedBytes(count: number, bits: number): number {
  return Math.ceil((count * bits) / 8);
}

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 16) {
    throw new InvalidArgumentError(`bit width must be an integer in 1..16, got ${bits}`);
  }
}

/**
 * Packs `codes` (each `< 2^bits`) into a byte stream. `out` (allocated when omitted) must hold
 * {@link packedBytes}`(codes.length, bits)` bytes; only those bytes are written (the padding bits
 * of the last byte are zero). Returns the written bytes (a view of `out` when given).
 */
export function packBits(codes: Uint8Array | Uint16Array, bits: number, out?: Uint8Array): Uint8Array {
  checkBits(bits);
  const n = codes.length;
  const nb = packedBytes(n, bits);
  if (out && out.length < nb) throw new ShapeError('packBits out', [nb], [out.length]);
  const dst = out ? out.subarray(0, nb) : new Uint8Array(nb);
  const limit = 1 << bits;
  if (bits === 8) {
    if (codes instanceof Uint8Array) dst.set(codes);
    else
      for (let i = 0; i < n; i++) {
        const c = codes[i]!;
        if (c >= limit)
          throw new InvalidArgumentError(`packBits: code ${c} at ${i} does not fit in ${bits} bits`);
        dst[i] = c;
      }
    return dst;
  }
  let acc = 0;
  let nacc = 0;
  let j = 0;
  for (let i = 0; i < n; i++) {
    const c = codes[i]!;
    if (c >= limit)
      throw new InvalidArgumentError(`packBits: code ${c} at ${i} does not fit in ${bits} bits`);
    acc |= c << nacc;
    nacc += bits;
    while (nacc >= 8) {
      dst[j++] = acc & 0xff;
      acc >>>= 8;
      nacc -= 8;
    }
  }
  if (nacc > 0) dst[j] = acc & 0xff;
  return dst;
}

/** Unpacks `count` codes of `bits` ≤ 8 bits. */
export function unpackBits(bytes: Uint8Array, bits: number, count: number, out?: Uint8Array): Uint8Array;
/** Unpacks `count` codes of `bits` (1..16) bits; codes wider than 8 bits need a Uint16Array. */
export function unpackBits(
  bytes: Uint8Array,
  bits: number,
  count: number,
  out?: Uint8Array | Uint16Array,
): Uint8Array | Uint16Array;
/**
 * Reads `count` codes of `bits` bits from `bytes` (layout of {@link packBits}) into `out`
 * (allocated when omitted: Uint8Array for ≤ 8 bits, Uint16Array above). Throws
 * {@link CorruptFileError} when `bytes` is shorter than {@link packedBytes}`(count, bits)`.
 */
export function unpackBits(
  bytes: Uint8Array,
  bits: number,
  count: number,
  out?: Uint8Array | Uint16Array,
): Uint8Array | Uint16Array {
  checkBits(bits);
  if (!Number.isInteger(count) || count < 0) throw new InvalidArgumentError(`unpackBits: bad count ${count}`);
  const nb = packedBytes(count, bits);
  if (bytes.length < nb) {
    throw new CorruptFileError(
      'packed codes',
      `need ${nb} bytes for ${count} codes of ${bits} bits, got ${bytes.length}`,
    );
  }
  if (out && out.length < count) throw new ShapeError('unpackBits out', [count], [out.length]);
  if (out && bits > 8 && out instanceof Uint8Array) {
    throw new InvalidArgumentError(`unpackBits: ${bits}-bit codes need a Uint16Array out`);
  }
  const dst = out ?? (bits <= 8 ? new Uint8Array(count) : new Uint16Array(count));
  if (bits === 8) {
    for (let i = 0; i < count; i++) dst[i] = bytes[i]!;
    return dst;
  }
  const mask = (1 << bits) - 1;
  let acc = 0;
  let nacc = 0;
  let j = 0;
  for (let i = 0; i < count; i++) {
    while (nacc < bits) {
      acc |= bytes[j++]! << nacc;
      nacc += 8;
    }
    dst[i] = acc & mask;
    acc >>>= bits;
    nacc -= bits;
  }
  return dst;
}
