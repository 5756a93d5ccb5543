/**
 * safetensors (https://github.com/huggingface/safetensors) reading and writing, browser-safe.
 *
 *     u64 N (little-endian) | N bytes of UTF-8 JSON header, padded with spaces | tensor bytes
 *
 * The header maps each tensor name to `{ dtype, shape, data_offsets: [begin, end] }` (offsets
 * relative to the first byte after the header) plus an optional `"__metadata__"` map of strings.
 * Validation follows the reference implementation and is strict: the header is strict UTF-8
 * JSON starting with `{`, at most 100 MB; every entry has exactly those three fields; each
 * tensor's byte size equals `numel(shape) × dtype size`; the tensors, sorted by offset, cover
 * the data buffer exactly (no gap, no overlap, nothing after the last). Any violation is a
 * {@link CorruptFileError} naming the tensor and the problem.
 */
import { CorruptFileError, DTypeError, InvalidArgumentError, ShapeError } from '../errors.js';
import { fromFloat16Bits } from '../float16.js';
import { ByteReader, allocBytes } from './byte-reader.js';
import { decodeUtf8, encodeUtf8, isPlainObject, parseJson } from './json.js';

/** The safetensors dtypes kvq reads and writes. */
export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I32' | 'U8';

/** Bytes per element of each dtype. */
export const SAFETENSORS_DTYPE_SIZE: Readonly<Record<SafetensorsDType, number>> = {
  F64: 8,
  F32: 4,
  I32: 4,
  F16: 2,
  BF16: 2,
  U8: 1,
};

/**
 * A tensor to write. `data` is either the typed array of the dtype (F32: Float32Array,
 * F64: Float64Array, I32: Int32Array, F16/BF16: Uint16Array of raw bits, U8: Uint8Array) or, for
 * any dtype, a Uint8Array of its little-endian bytes.
 */
export interface SafetensorsTensorInput {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly data: Float32Array | Float64Array | Int32Array | Uint16Array | Uint8Array;
}

/** A tensor read from a file: `data` is a view (no copy) of its little-endian bytes. */
export interface SafetensorsTensor {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/** A decoded safetensors file. Both records have a null prototype. */
export interface SafetensorsFile {
  readonly tensors: Readonly<Record<string, SafetensorsTensor>>;
  readonly metadata: Readonly<Record<string, string>>;
  /** the data buffer (every tensor's bytes, in file order), a view into the input */
  readonly dataBytes: Uint8Array;
}

/** Largest header the reader accepts (as the reference implementation): 100 MB. */
export const SAFETENSORS_MAX_HEADER = 100_000_000;

const WHAT = 'safetensors file';
const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TYPED_FOR: Readonly<Record<SafetensorsDType, string>> = {
  F64: 'Float64Array',
  F32: 'Float32Array',
  I32: 'Int32Array',
  F16: 'Uint16Array',
  BF16: 'Uint16Array',
  U8: 'Uint8Array',
};

function isDType(v: unknown): v is SafetensorsDType {
  return typeof v === 'string' && Object.hasOwn(SAFETENSORS_DTYPE_SIZE, v);
}

/** Little-endian bytes of a typed array (a view on little-endian hosts, a swapped copy otherwise). */
function leBytes(data: SafetensorsTensorInput['data'], size: number): Uint8Array {
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN_HOST || size === 1 || data instanceof Uint8Array) return raw;
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += size)
    for (let k = 0; k < size; k++) out[i + k] = raw[i + size - 1 - k]!;
  return out;
}

function tensorBytes(name: string, t: SafetensorsTensorInput): Uint8Array {
  if (!isPlainObject(t))
    throw new InvalidArgumentError(`tensor "${name}" must be an object { dtype, shape, data }`);
  if (!isDType(t.dtype)) {
    throw new InvalidArgumentError(
      `tensor "${name}": dtype must be one of ${Object.keys(SAFETENSORS_DTYPE_SIZE).join(', ')}, got ${String(t.dtype)}`,
    );
  }
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new InvalidArgumentError(`tensor "${name}": shape must be an array of non-negative integers`);
  }
  const size = SAFETENSORS_DTYPE_SIZE[t.dtype];
  const d = t.data;
  const typedName = TYPED_FOR[t.dtype];
  const ok =
    d instanceof Uint8Array ||
    (t.dtype === 'F32' && d instanceof Float32Array) ||
    (t.dtype === 'F64' && d instanceof Float64Array) ||
    (t.dtype === 'I32' && d instanceof Int32Array) ||
    ((t.dtype === 'F16' || t.dtype === 'BF16') && d instanceof Uint16Array);
  if (!ok) {
    const got = d === null ? 'null' : ((d as object)?.constructor?.name ?? typeof d);
    throw new DTypeError(
      `tensor "${name}" (${t.dtype}) data`,
      `${typedName} or Uint8Array of its bytes`,
      got,
    );
  }
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (d.byteLength !== n * size) {
    throw new ShapeError(
      `tensor "${name}" (${t.dtype}, ${d.byteLength} bytes of data)`,
      [...t.shape],
      [d.byteLength / size],
    );
  }
  return leBytes(d, size);
}

/**
 * Encodes tensors and string metadata as a safetensors file. Tensors are laid out by dtype size
 * (largest first) then name, as the reference writer does, so each tensor starts at a multiple
 * of its element size; the header is padded with spaces so the data starts at a multiple of 8.
 *
 * Throws {@link InvalidArgumentError} (bad name, dtype, shape or metadata value),
 * {@link DTypeError} (data array of the wrong kind) or {@link ShapeError} (data length ≠ shape).
 */
export function encodeSafetensors(
  tensors: Readonly<Record<string, SafetensorsTensorInput>>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  if (!isPlainObject(tensors)) throw new InvalidArgumentError('safetensors tensors must be a plain object');
  if (!isPlainObject(metadata)) throw new InvalidArgumentError('safetensors metadata must be a plain object');
  const meta: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') {
      throw new InvalidArgumentError(`safetensors metadata "${k}" must be a string, got ${typeof v}`);
    }
    meta[k] = v;
  }
  const entries = Object.entries(tensors).map(([name, t]) => {
    if (name === '' || name === METADATA_KEY) {
      throw new InvalidArgumentError(`safetensors tensor name ${JSON.stringify(name)} is not allowed`);
    }
    return { name, t, bytes: tensorBytes(name, t) };
  });
  entries.sort(
    (a, b) =>
      SAFETENSORS_DTYPE_SIZE[b.t.dtype] - SAFETENSORS_DTYPE_SIZE[a.t.dtype] ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const header: Record<string, unknown> = Object.create(null);
  if (Object.keys(meta).length > 0) header[METADATA_KEY] = meta;
  let offset = 0;
  for (const e of entries) {
    header[e.name] = {
      dtype: e.t.dtype,
      shape: [...e.t.shape],
      data_offsets: [offset, offset + e.bytes.length],
    };
    offset += e.bytes.length;
  }
  const json = encodeUtf8(JSON.stringify(header));
  const headerLength = json.length + ((8 - ((8 + json.length) % 8)) % 8);
  const out = allocBytes('safetensors file', 8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let p = 8 + headerLength;
  for (const e of entries) {
    out.set(e.bytes, p);
    p += e.bytes.length;
  }
  return out;
}

function fail(detail: string): never {
  throw new CorruptFileError(WHAT, detail);
}

function readEntry(name: string, v: unknown, dataLength: number) {
  if (!isPlainObject(v)) fail(`tensor "${name}": entry is not a JSON object`);
  for (const k of Object.keys(v)) {
    if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets')
      fail(`tensor "${name}": unknown field "${k}"`);
  }
  const { dtype, shape, data_offsets: offsets } = v;
  if (!isDType(dtype)) {
    fail(
      `tensor "${name}": unsupported dtype ${JSON.stringify(dtype) ?? 'undefined'} (this reader supports ${Object.keys(SAFETENSORS_DTYPE_SIZE).join(', ')})`,
    );
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`tensor "${name}": shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((d) => Number.isSafeInteger(d) && d >= 0) ||
    offsets[0] > offsets[1]
  ) {
    fail(
      `tensor "${name}": data_offsets must be [begin, end] with 0 ≤ begin ≤ end, got ${JSON.stringify(offsets)}`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    fail(
      `tensor "${name}": data_offsets [${begin}, ${end}] go past the end of the data (${dataLength} bytes)`,
    );
  }
  // numel × size, stopping once it exceeds what the file could hold (no overflow)
  const size = SAFETENSORS_DTYPE_SIZE[dtype];
  let bytes = shape.includes(0) ? 0 : size;
  for (const d of shape as number[]) {
    if (bytes > dataLength) break;
    bytes *= d;
  }
  if (bytes !== end - begin) {
    fail(
      `tensor "${name}": ${dtype} × shape [${shape.join(', ')}] needs ${bytes > dataLength ? `more than ${dataLength}` : bytes} bytes, data_offsets give ${end - begin}`,
    );
  }
  return { name, dtype, shape: [...(shape as number[])], begin, end };
}

/**
 * Decodes a safetensors file. Tensor data are views into `bytes` (no copy); use
 * {@link safetensorToFloat32} to get fp32 values.
 *
 * Throws {@link CorruptFileError} naming the problem: truncated, header too large or not a UTF-8
 * JSON object, an entry with a bad dtype/shape/offsets, sizes that do not match, overlapping
 * tensors, gaps, or bytes after the last tensor.
 */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (!(bytes instanceof Uint8Array))
    throw new InvalidArgumentError(`${WHAT}: expected a Uint8Array of the file`);
  const r = new ByteReader(WHAT, bytes);
  const n = r.u64('header length');
  if (n > SAFETENSORS_MAX_HEADER) fail(`header length ${n} exceeds the ${SAFETENSORS_MAX_HEADER}-byte limit`);
  const headerBytes = r.bytesView('header', n);
  if (headerBytes[0] !== 0x7b) fail('header does not start with "{"');
  const header = parseJson(`${WHAT} header`, decodeUtf8(`${WHAT} header`, headerBytes));
  if (!isPlainObject(header)) fail('header is not a JSON object');
  const dataBytes = bytes.subarray(r.position);

  const metadata: Record<string, string> = Object.create(null);
  const entries: ReturnType<typeof readEntry>[] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (!isPlainObject(v)) fail('"__metadata__" is not a JSON object');
      for (const [k, s] of Object.entries(v)) {
        if (typeof s !== 'string') fail(`"__metadata__"."${k}" is not a string`);
        metadata[k] = s;
      }
    } else {
      entries.push(readEntry(name, v, dataBytes.length));
    }
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let prev = '';
  for (const e of entries) {
    if (e.begin < expected)
      fail(`tensor "${e.name}" [${e.begin}, ${e.end}) overlaps tensor "${prev}" (ends at ${expected})`);
    if (e.begin > expected) fail(`gap in the data: bytes [${expected}, ${e.begin}) belong to no tensor`);
    expected = e.end;
    prev = e.name;
  }
  if (expected !== dataBytes.length) {
    fail(`${dataBytes.length - expected} bytes after the last tensor's data belong to no tensor`);
  }
  const tensors: Record<string, SafetensorsTensor> = Object.create(null);
  for (const e of entries) {
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data: dataBytes.subarray(e.begin, e.end) };
  }
  return { tensors, metadata, dataBytes };
}

/**
 * The values of a decoded F32, F16, BF16 or F64 tensor as a new Float32Array (F64 rounded to
 * fp32). Throws {@link DTypeError} for integer dtypes.
 */
export function safetensorToFloat32(t: SafetensorsTensor): Float32Array {
  const n = t.data.length / SAFETENSORS_DTYPE_SIZE[t.dtype];
  const out = new Float32Array(n);
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  switch (t.dtype) {
    case 'F32':
      if (LITTLE_ENDIAN_HOST) new Uint8Array(out.buffer).set(t.data);
      else for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    case 'BF16': {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = fromFloat16Bits(dv.getUint16(2 * i, true));
      return out;
    default:
      throw new DTypeError(`safetensors tensor (${t.dtype})`, 'F32, F16, BF16 or F64', t.dtype);
  }
}
