/**
 * A bounds-checked little-endian reader over a byte array. Every read checks that the bytes it
 * needs are there and throws {@link CorruptFileError} naming the field otherwise, so parsers
 * built on it never index past the end or throw a RangeError.
 */
import { CorruptFileError, OutOfMemoryError } from '../errors.js';

export class ByteReader {
  readonly #view: DataView;
  #pos = 0;

  /** @param what name of the file kind, used in error messages (e.g. "kvq-cache file") */
  constructor(
    readonly what: string,
    readonly bytes: Uint8Array,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Current offset from the start of `bytes`. */
  get position(): number {
    return this.#pos;
  }

  /** Bytes left after the current offset. */
  get remaining(): number {
    return this.bytes.length - this.#pos;
  }

  /** Throws unless `n` more bytes are available for `field`. */
  need(field: string, n: number): void {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.remaining) {
      throw new CorruptFileError(
        this.what,
        `truncated: ${field} needs ${n} bytes at offset ${this.#pos}, but only ${this.remaining} remain`,
      );
    }
  }

  u16(field: string): number {
    this.need(field, 2);
    const v = this.#view.getUint16(this.#pos, true);
    this.#pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(field, 4);
    const v = this.#view.getUint32(this.#pos, true);
    this.#pos += 4;
    return v;
  }

  /** An unsigned 64-bit integer; values above 2^53 − 1 are reported as corrupt. */
  u64(field: string): number {
    this.need(field, 8);
    const v = this.#view.getBigUint64(this.#pos, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new CorruptFileError(this.what, `${field} at offset ${this.#pos} is ${v}, larger than any file`);
    }
    this.#pos += 8;
    return Number(v);
  }

  /** A view (no copy) of the next `n` bytes. */
  bytesView(field: string, n: number): Uint8Array {
    this.need(field, n);
    const v = this.bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }
}

/** `new Uint8Array(n)`, with an allocation failure reported as {@link OutOfMemoryError}. */
export function allocBytes(what: string, n: number): Uint8Array {
  try {
    return new Uint8Array(n);
  } catch (e) {
    if (e instanceof RangeError) throw new OutOfMemoryError(what, n);
    throw e;
  }
}
