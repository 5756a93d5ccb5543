import { halfTable } from './dequant-f16.js';

/**
 * ggml Q8_0: blocks of 32 values, each `{ d: f16, qs: int8[32] }` (34 bytes); value = d · q.
 * Dequantizes `count` values (a multiple of 32) into `out`.
 */
export function dequantQ8_0(bytes: Uint8Array, count: number, out: Float32Array): Float32Array {
  const t = halfTable();
  const blocks = count / 32;
  for (let b = 0; b < blocks; b++) {
    const p = b * 34;
    const d = t[bytes[p]! | (bytes[p + 1]! << 8)]!;
    const o = b * 32;
    for (let i = 0; i < 32; i++) out[o + i] = d * ((bytes[p + 2 + i]! << 24) >> 24);
  }
  return out;
}
