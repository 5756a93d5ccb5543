/**
 * The generic versioned container of every kvq binary file (byte layout: packages/core/FORMATS.md).
 *
 *     magic(4) version(u16) reserved(u16=0) headerLength(u32) header(JSON, UTF-8)
 *     sectionCount(u32) sectionCount × [length(u64) crc32(u32)] prefixCrc(u32)
 *     zero padding to a multiple of 8, then each section padded with zeros to a multiple of 8
 *
 * All integers little-endian. `prefixCrc` is the CRC-32 of every byte before it (magic through the
 * section table), so the header, version and section table are covered; each section has its own
 * CRC-32. Browser-safe (no Node built-ins).
 */
import { CorruptFileError, InvalidArgumentError, UnsupportedVersionError } from '../errors.js';
import { ByteReader, allocBytes } from './byte-reader.js';
import { crc32 } from './crc32.js';
import { decodeUtf8, encodeUtf8, isPlainObject, parseJson, stringifyJson } from './json.js';

/** The kinds of kvq container files and their 4-byte magics. */
export const CONTAINER_MAGIC = {
  'kvq-cache': 'KVQC',
  'kvq-adapters': 'KVQA',
} as const;

/** A kind of kvq container file. */
export type ContainerKind = keyof typeof CONTAINER_MAGIC;

/** The contents of a container file. */
export interface ContainerContents {
  /** format version of the file kind, 0..65535 */
  readonly version: number;
  /** free-form JSON object (stored as UTF-8 JSON) */
  readonly header: Readonly<Record<string, unknown>>;
  /** binary payloads, in order */
  readonly sections: readonly Uint8Array[];
}

/** What {@link encodeContainer} writes. */
export interface ContainerInput {
  readonly kind: ContainerKind;
  /** format version of the file kind, 0..65535 */
  readonly version: number;
  /**
   * a plain JSON object (typed as `object` so that interfaces are accepted); checked at run time:
   * anything `JSON.stringify` would drop or change is refused
   */
  readonly header: object;
  /** binary payloads, in order */
  readonly sections: readonly Uint8Array[];
}

/** What {@link decodeContainer} accepts. */
export interface ContainerExpectation {
  readonly kind: ContainerKind;
  /** the format versions the caller reads; another version → {@link UnsupportedVersionError} */
  readonly versions: readonly number[];
}

const FIXED_PREFIX = 12; // magic, version, reserved, header length
const TABLE_ENTRY = 12; // u64 length + u32 crc
const ALIGN = 8;
const MAX_U32 = 0xffffffff;

function pad(n: number): number {
  return (ALIGN - (n % ALIGN)) % ALIGN;
}

function magicBytes(kind: ContainerKind): Uint8Array {
  return encodeUtf8(CONTAINER_MAGIC[kind]);
}

function fileName(kind: string): string {
  return `${kind} file`;
}

/**
 * Encodes a container. Throws {@link InvalidArgumentError} for an unknown kind, a version outside
 * 0..65535, a header that is not a plain JSON object (NaN, undefined, class instances, ...) or a
 * section that is not a Uint8Array.
 */
export function encodeContainer(input: ContainerInput): Uint8Array {
  const { kind, version, header, sections } = input;
  if (!Object.hasOwn(CONTAINER_MAGIC, kind)) {
    throw new InvalidArgumentError(
      `container kind must be one of ${Object.keys(CONTAINER_MAGIC).join(', ')}, got ${String(kind)}`,
    );
  }
  if (!Number.isInteger(version) || version < 0 || version > 0xffff) {
    throw new InvalidArgumentError(
      `${kind} container version must be an integer in 0..65535, got ${version}`,
    );
  }
  if (!isPlainObject(header))
    throw new InvalidArgumentError(`${kind} container header must be a plain object`);
  if (!Array.isArray(sections)) throw new InvalidArgumentError(`${kind} container sections must be an array`);
  sections.forEach((s, i) => {
    if (!(s instanceof Uint8Array)) {
      throw new InvalidArgumentError(`${kind} container section ${i} must be a Uint8Array`);
    }
  });
  if (sections.length > MAX_U32) throw new InvalidArgumentError(`${kind} container: too many sections`);
  const headerBytes = encodeUtf8(stringifyJson(`${kind} container header`, header));
  if (headerBytes.length > MAX_U32) throw new InvalidArgumentError(`${kind} container header too large`);

  const prefixLength = FIXED_PREFIX + headerBytes.length + 4 + TABLE_ENTRY * sections.length;
  const dataStart = prefixLength + 4 + pad(prefixLength + 4);
  let total = dataStart;
  for (const s of sections) total += s.length + pad(s.length);

  const out = allocBytes(`${kind} container (${total} bytes)`, total);
  const view = new DataView(out.buffer);
  out.set(magicBytes(kind), 0);
  view.setUint16(4, version, true);
  view.setUint16(6, 0, true);
  view.setUint32(8, headerBytes.length, true);
  out.set(headerBytes, FIXED_PREFIX);
  let p = FIXED_PREFIX + headerBytes.length;
  view.setUint32(p, sections.length, true);
  p += 4;
  for (const s of sections) {
    view.setBigUint64(p, BigInt(s.length), true);
    view.setUint32(p + 8, crc32(s), true);
    p += TABLE_ENTRY;
  }
  view.setUint32(p, crc32(out.subarray(0, p)), true);
  p = dataStart;
  for (const s of sections) {
    out.set(s, p);
    p += s.length + pad(s.length);
  }
  return out;
}

/**
 * The exact size in bytes of the container {@link encodeContainer} writes for a header whose JSON
 * is `headerJsonBytes` UTF-8 bytes long and sections of the given lengths (for exact accounting).
 */
export function containerSize(headerJsonBytes: number, sectionLengths: readonly number[]): number {
  const prefixLength = FIXED_PREFIX + headerJsonBytes + 4 + TABLE_ENTRY * sectionLengths.length;
  let total = prefixLength + 4 + pad(prefixLength + 4);
  for (const n of sectionLengths) total += n + pad(n);
  return total;
}

function checkZero(what: string, bytes: Uint8Array, field: string, offset: number): void {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0) throw new CorruptFileError(what, `${field} at offset ${offset + i} is not zero`);
  }
}

/**
 * Decodes a container written by {@link encodeContainer}. The returned sections are views into
 * `bytes` (no copy), each starting at a multiple of 8 from the start of `bytes`.
 *
 * Errors: wrong magic, truncation, a length past the end, trailing bytes, non-zero padding, a
 * header that is not a JSON object, or a CRC-32 mismatch → {@link CorruptFileError} naming what;
 * a version not in `expect.versions` → {@link UnsupportedVersionError}.
 */
export function decodeContainer(bytes: Uint8Array, expect: ContainerExpectation): ContainerContents {
  const { kind, versions } = expect;
  if (!Object.hasOwn(CONTAINER_MAGIC, kind)) {
    throw new InvalidArgumentError(
      `container kind must be one of ${Object.keys(CONTAINER_MAGIC).join(', ')}, got ${String(kind)}`,
    );
  }
  const what = fileName(kind);
  if (!Array.isArray(versions) || !versions.every((v) => Number.isInteger(v))) {
    throw new InvalidArgumentError(`${what}: expect.versions must be an array of integers`);
  }
  if (!(bytes instanceof Uint8Array))
    throw new InvalidArgumentError(`${what}: expected a Uint8Array of the file`);
  const r = new ByteReader(what, bytes);
  const magic = r.bytesView('magic', 4);
  const want = magicBytes(kind);
  if (!magic.every((b, i) => b === want[i])) {
    const found = Array.from(magic, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    throw new CorruptFileError(
      what,
      `wrong magic "${found}" (expected "${CONTAINER_MAGIC[kind]}"): not a ${what}`,
    );
  }
  const version = r.u16('format version');
  if (!versions.includes(version)) throw new UnsupportedVersionError(what, version, versions);
  const reserved = r.u16('reserved field');
  if (reserved !== 0) throw new CorruptFileError(what, `reserved field is ${reserved}, expected 0`);
  const headerLength = r.u32('header length');
  const headerBytes = r.bytesView('header', headerLength);
  const count = r.u32('section count');
  r.need(`section table (${count} sections)`, count * TABLE_ENTRY);
  const lengths: number[] = [];
  const crcs: number[] = [];
  for (let i = 0; i < count; i++) {
    lengths.push(r.u64(`section ${i} length`));
    crcs.push(r.u32(`section ${i} checksum`));
  }
  const prefixEnd = r.position;
  const storedPrefixCrc = r.u32('header checksum');
  const actualPrefixCrc = crc32(bytes.subarray(0, prefixEnd));
  if (storedPrefixCrc !== actualPrefixCrc) {
    throw new CorruptFileError(
      what,
      `header checksum mismatch (stored ${storedPrefixCrc.toString(16)}, computed ${actualPrefixCrc.toString(16)})`,
    );
  }
  const headerPad = pad(r.position);
  checkZero(what, r.bytesView('header padding', headerPad), 'header padding', r.position - headerPad);

  const header = parseJson(`${what} header`, decodeUtf8(`${what} header`, headerBytes));
  if (!isPlainObject(header)) throw new CorruptFileError(what, 'header is not a JSON object');

  const sections: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const len = lengths[i]!;
    const start = r.position;
    const s = r.bytesView(`section ${i} (declared ${len} bytes)`, len);
    const sPad = pad(len);
    checkZero(what, r.bytesView(`section ${i} padding`, sPad), `section ${i} padding`, start + len);
    const c = crc32(s);
    if (c !== crcs[i]) {
      throw new CorruptFileError(
        what,
        `section ${i} checksum mismatch (stored ${crcs[i]!.toString(16)}, computed ${c.toString(16)})`,
      );
    }
    sections.push(s);
  }
  if (r.remaining !== 0) {
    throw new CorruptFileError(what, `${r.remaining} unexpected trailing bytes after the last section`);
  }
  return { version, header, sections };
}
