import { halfTable } from './dequant-f16.js';

/**
 * ggml Q6_K: super-blocks of 256 values, `{ ql: u8[128], qh: u8[64], scales: i8[16], d: f16 }`
 * (210 bytes). Each value has 4 low bits in `ql` and 2 high bits in `qh`, q ∈ [-32, 31];
 * value = d · scales[value / 16] · q.
 */
export function dequantQ6_K(bytes: Uint8Array, count: number, out: Float32Array): Float32Array {
  const t = halfTable();
  const blocks = count / 256;
  for (let b = 0; b < blocks; b++) {
    const p = b * 210;
    const d = t[bytes[p + 208]! | (bytes[p + 209]! << 8)]!;
    for (let half = 0; half < 2; half++) {
      const ql = p + half * 64;
      const qh = p + 128 + half * 32;
      const sc = p + 192 + half * 8;
      const o = b * 256 + half * 128;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = bytes[qh + l]!;
        const q1 = ((bytes[ql + l]! & 0xf) | ((h & 3) << 4)) - 32;
        const q2 = ((bytes[ql + l + 32]! & 0xf) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((bytes[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((bytes[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32;
        out[o + l] = d * ((bytes[sc + is]! << 24) >> 24) * q1;
        out[o + l + 32] = d * ((bytes[sc + is + 2]! << 24) >> 24) * q2;
        out[o + l + 64] = d * ((bytes[sc + is + 4]! << 24) >> 24) * q3;
        out[o + l + 96] = d * ((bytes[sc + is + 6]! << 24) >> 24) * q4;
      }
    }
  }
  return out;
}
