import { halfTable } from './dequant-f16.js';

/**
 * ggml Q4_K: super-blocks of 256 values, `{ d: f16, dmin: f16, scales: u8[12], qs: u8[128] }`
 * (144 bytes). 8 sub-blocks of 32 values have a 6-bit scale and a 6-bit min packed in `scales`;
 * value = d·scale·q − dmin·min with 4-bit q (low nibbles for the first 32 values of each 64,
 * high nibbles for the next 32).
 */
export function dequantQ4_K(bytes: Uint8Array, count: number, out: Float32Array): Float32Array {
  const t = halfTable();
  const blocks = count / 256;
  for (let b = 0; b < blocks; b++) {
    const p = b * 144;
    const d = t[bytes[p]! | (bytes[p + 1]! << 8)]!;
    const dmin = t[bytes[p + 2]! | (bytes[p + 3]! << 8)]!;
    const sc = p + 4;
    let q = p + 16;
    let o = b * 256;
    for (let j = 0; j < 8; j += 2) {
      const [s1, m1] = scaleMin(bytes, sc, j);
      const [s2, m2] = scaleMin(bytes, sc, j + 1);
      const d1 = d * s1;
      const dm1 = dmin * m1;
      const d2 = d * s2;
      const dm2 = dmin * m2;
      for (let l = 0; l < 32; l++) out[o + l] = d1 * (bytes[q + l]! & 0xf) - dm1;
      for (let l = 0; l < 32; l++) out[o + 32 + l] = d2 * (bytes[q + l]! >> 4) - dm2;
      q += 32;
      o += 64;
    }
  }
  return out;
}

/** The 6-bit scale and min of sub-block `j` (0..7) from the 12 packed bytes at `s`. */
function scaleMin(bytes: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [bytes[s + j]! & 63, bytes[s + j + 4]! & 63];
  return [
    (bytes[s + j + 4]! & 0xf) | ((bytes[s + j - 4]! >> 6) << 4),
    (bytes[s + j + 4]! >> 4) | ((bytes[s + j]! >> 6) << 4),
  ];
}
