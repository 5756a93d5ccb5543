import { CorruptFileError, UnsupportedVersionError } from '@kvq/core';

/** A metadata value as stored in a GGUF header (64-bit integers beyond 2^53 stay bigint). */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

/** One tensor's entry in the GGUF header. `dims[0]` is the contiguous (innermost) dimension. */
export interface GgufTensorInfo {
  readonly name: string;
  readonly dims: readonly number[];
  /** ggml type id (see GGML_TYPE) */
  readonly type: number;
  /** byte offset of the tensor's data from {@link GgufHeader.dataOffset} */
  readonly offset: number;
}

/** The parsed header of a GGUF file: metadata, tensor directory and where tensor data starts. */
export interface GgufHeader {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  /** absolute byte offset of the tensor data section (aligned to `alignment`) */
  readonly dataOffset: number;
  readonly alignment: number;
}

const MAGIC = 0x46554747; // "GGUF" little-endian
const SUPPORTED_VERSIONS = [2, 3];
const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Bounds-checked little-endian reader; every read past the end throws CorruptFileError. */
class Reader {
  pos = 0;
  readonly #view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  #need(n: number, reading: string): number {
    if (this.pos + n > this.bytes.byteLength) {
      throw new CorruptFileError(
        this.what,
        `truncated: needed ${n} bytes at offset ${this.pos} to read ${reading}, but the file has ${this.bytes.byteLength} bytes`,
      );
    }
    const p = this.pos;
    this.pos += n;
    return p;
  }
  u8(r: string): number {
    return this.#view.getUint8(this.#need(1, r));
  }
  i8(r: string): number {
    return this.#view.getInt8(this.#need(1, r));
  }
  u16(r: string): number {
    return this.#view.getUint16(this.#need(2, r), true);
  }
  i16(r: string): number {
    return this.#view.getInt16(this.#need(2, r), true);
  }
  u32(r: string): number {
    return this.#view.getUint32(this.#need(4, r), true);
  }
  i32(r: string): number {
    return this.#view.getInt32(this.#need(4, r), true);
  }
  f32(r: string): number {
    return this.#view.getFloat32(this.#need(4, r), true);
  }
  f64(r: string): number {
    return this.#view.getFloat64(this.#need(8, r), true);
  }
  u64(r: string): number | bigint {
    const v = this.#view.getBigUint64(this.#need(8, r), true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  i64(r: string): number | bigint {
    const v = this.#view.getBigInt64(this.#need(8, r), true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  /** a u64 that must fit in a JS number (sizes, offsets, dimensions) */
  size(r: string): number {
    const v = this.u64(r);
    if (typeof v === 'bigint')
      throw new CorruptFileError(this.what, `implausible ${r} ${v} at offset ${this.pos - 8}`);
    return v;
  }
  /** a u64 element count: every element takes at least one byte, so it cannot exceed the file size */
  count(r: string): number {
    const v = this.size(r);
    const left = this.bytes.byteLength - this.pos;
    if (v > left) {
      throw new CorruptFileError(
        this.what,
        `truncated or corrupt: ${r} is ${v} at offset ${this.pos - 8}, but only ${left} bytes follow`,
      );
    }
    return v;
  }
  string(r: string): string {
    const n = this.size(`length of ${r}`);
    const p = this.#need(n, r);
    return utf8.decode(this.bytes.subarray(p, p + n));
  }
}

function readValue(rd: Reader, type: number, key: string): GgufValue {
  switch (type) {
    case 0:
      return rd.u8(key);
    case 1:
      return rd.i8(key);
    case 2:
      return rd.u16(key);
    case 3:
      return rd.i16(key);
    case 4:
      return rd.u32(key);
    case 5:
      return rd.i32(key);
    case 6:
      return rd.f32(key);
    case 7:
      return rd.u8(key) !== 0;
    case 8:
      return rd.string(key);
    case 9: {
      const itemType = rd.u32(`array item type of ${key}`);
      const n = rd.count(`array length of ${key}`);
      const out: GgufValue[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(rd, itemType, `${key}[${i}]`);
      return out;
    }
    case 10:
      return rd.u64(key);
    case 11:
      return rd.i64(key);
    case 12:
      return rd.f64(key);
    default:
      throw new CorruptFileError(
        rd.what,
        `unknown metadata value type ${type} for key "${key}" at offset ${rd.pos - 4}`,
      );
  }
}

/**
 * Parses a GGUF header (v2/v3, little-endian) from the file's bytes (at least the header; the
 * tensor data may be absent when only metadata is needed). Throws {@link CorruptFileError} on a
 * bad magic or a truncated/invalid structure and {@link UnsupportedVersionError} on other versions.
 *
 * @param bytes the file (or its first bytes)
 * @param what how to name the file in error messages (usually its path)
 */
export function readGgufHeader(bytes: Uint8Array, what = 'GGUF file'): GgufHeader {
  const rd = new Reader(bytes, what);
  const magic = rd.u32('the magic number');
  if (magic !== MAGIC) {
    const got = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new CorruptFileError(what, `not a GGUF file (magic bytes ${got}, expected 47 47 55 46 "GGUF")`);
  }
  const version = rd.u32('the version');
  if (!SUPPORTED_VERSIONS.includes(version)) {
    if (version > 0xffff)
      throw new UnsupportedVersionError(`${what} (big-endian GGUF)`, version, SUPPORTED_VERSIONS);
    throw new UnsupportedVersionError(what, version, SUPPORTED_VERSIONS);
  }
  const tensorCount = rd.count('tensor count');
  const kvCount = rd.count('metadata count');
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = rd.string(`metadata key ${i} of ${kvCount}`);
    const type = rd.u32(`type of metadata "${key}"`);
    metadata.set(key, readValue(rd, type, key));
  }
  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const at = `tensor info ${i} of ${tensorCount}`;
    const name = rd.string(`name of ${at}`);
    const nDims = rd.u32(`dimension count of ${at}`);
    if (nDims < 1 || nDims > 4)
      throw new CorruptFileError(what, `tensor "${name}" has ${nDims} dimensions (1..4 allowed)`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(rd.size(`dimension ${d} of tensor "${name}"`));
    const type = rd.u32(`type of tensor "${name}"`);
    const offset = rd.size(`data offset of tensor "${name}"`);
    tensors.push({ name, dims, type, offset });
  }
  const alignValue = metadata.get('general.alignment') ?? 32;
  const alignment = typeof alignValue === 'number' ? alignValue : Number.NaN;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new CorruptFileError(what, `general.alignment must be a power of two, got ${String(alignValue)}`);
  }
  const dataOffset = Math.ceil(rd.pos / alignment) * alignment;
  return { version, metadata, tensors, dataOffset, alignment };
}
