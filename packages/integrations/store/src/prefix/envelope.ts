import { crc32 } from '@kvq/core';

const MAGIC = 0x5051564b; // 'KVQP' little-endian
const VERSION = 1;
/** magic(4) version(4) tokens(4) crc32(4) key(32) */
const HEADER = 48;

/**
 * Wraps a `.kvq` cache snapshot with the key it was stored under, its token count and a CRC-32 of
 * everything after the CRC field, so a reader can tell a value written for another key, a
 * truncated value and a corrupt value from a good one.
 */
export function wrapValue(keyHex: string, tokens: number, snapshot: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + snapshot.byteLength);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, VERSION, true);
  dv.setUint32(8, tokens, true);
  out.set(Buffer.from(keyHex, 'hex').subarray(0, 32), 16);
  out.set(snapshot, HEADER);
  dv.setUint32(12, crc32(out.subarray(16)), true);
  return out;
}

/** The snapshot inside `value`, or undefined when it is not a whole, intact value for `keyHex`. */
export function unwrapValue(keyHex: string, tokens: number, value: Uint8Array): Uint8Array | undefined {
  if (value.byteLength < HEADER) return undefined;
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  if (dv.getUint32(0, true) !== MAGIC || dv.getUint32(4, true) !== VERSION) return undefined;
  if (dv.getUint32(8, true) !== tokens) return undefined;
  if (Buffer.from(value.subarray(16, 48)).toString('hex') !== keyHex) return undefined;
  if (dv.getUint32(12, true) !== crc32(value.subarray(16))) return undefined;
  return value.subarray(HEADER);
}
