/**
 * Strict JSON helpers for file headers: UTF-8 decoding that rejects malformed bytes, JSON
 * parsing that reports a {@link CorruptFileError}, and a check that a value survives a JSON
 * round trip unchanged (so a header is never silently altered by `JSON.stringify`).
 */
import { CorruptFileError, InvalidArgumentError } from '../errors.js';

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export function encodeUtf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** Decodes strict UTF-8; malformed bytes → {@link CorruptFileError} naming `what`. */
export function decodeUtf8(what: string, bytes: Uint8Array): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new CorruptFileError(what, 'is not valid UTF-8');
  }
}

/** Parses JSON; a syntax error → {@link CorruptFileError} naming `what`. */
export function parseJson(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CorruptFileError(what, `is not valid JSON (${(e as Error).message})`);
  }
}

/** True for a non-null, non-array object. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Throws {@link InvalidArgumentError} unless `value` is plain JSON data that `JSON.stringify`
 * keeps exactly: null, booleans, strings, finite numbers, arrays and plain objects (no
 * `undefined`, NaN, ±Inf, functions, class instances, typed arrays, cycles).
 */
export function assertJsonValue(what: string, value: unknown): void {
  try {
    check(what, value, '', new Set());
  } catch (e) {
    if (e instanceof RangeError)
      throw new InvalidArgumentError(`${what}: nested too deeply to store as JSON`);
    throw e;
  }
}

function check(what: string, value: unknown, path: string, seen: Set<object>): void {
  const at = path === '' ? what : `${what}${path}`;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidArgumentError(`${at}: ${value} cannot be stored as JSON`);
    return;
  }
  if (typeof value !== 'object') {
    throw new InvalidArgumentError(`${at}: a ${typeof value} cannot be stored as JSON`);
  }
  if (seen.has(value)) throw new InvalidArgumentError(`${at}: cyclic reference cannot be stored as JSON`);
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) check(what, value[i], `${path}[${i}]`, seen);
  } else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) check(what, v, `${path}.${k}`, seen);
  } else {
    const name = (value as object).constructor?.name ?? 'object';
    throw new InvalidArgumentError(
      `${at}: a ${name} cannot be stored as JSON (only plain objects and arrays)`,
    );
  }
  seen.delete(value);
}

/**
 * `JSON.stringify(value)` after {@link assertJsonValue}; a value nested too deeply for the
 * engine → {@link InvalidArgumentError} instead of a RangeError.
 */
export function stringifyJson(what: string, value: unknown): string {
  assertJsonValue(what, value);
  try {
    return JSON.stringify(value);
  } catch (e) {
    if (e instanceof RangeError)
      throw new InvalidArgumentError(`${what}: nested too deeply to store as JSON`);
    throw e;
  }
}
