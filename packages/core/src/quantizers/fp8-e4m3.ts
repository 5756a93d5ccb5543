/**
 * fp8 E4M3 (OCP "E4M3FN"): 1 sign, 4 exponent (bias 7), 3 mantissa bits; no Inf; NaN is
 * 0x7F / 0xFF; largest finite ±448; subnormals down to 2^-9. Encoding rounds to nearest even and
 * saturates to ±448.
 */

/** Largest finite e4m3 value. */
export const E4M3_MAX = 448;

let table: Float32Array | null = null;

/** The 256 e4m3 values (NaN at 0x7F and 0xFF), indexed by byte. */
export function e4m3Table(): Float32Array {
  if (table === null) {
    const t = new Float32Array(256);
    for (let b = 0; b < 256; b++) {
      const s = b & 0x80 ? -1 : 1;
      const e = (b >>> 3) & 0xf;
      const m = b & 7;
      if (e === 15 && m === 7) t[b] = Number.NaN;
      else if (e === 0) t[b] = s * m * 2 ** -9;
      else t[b] = s * (1 + m / 8) * 2 ** (e - 7);
    }
    table = t;
  }
  return table;
}

/** e4m3 byte of an fp32 bit pattern `x` (uint32): RNE, saturating to ±448, NaN → 0x7F|sign. */
export function f32BitsToE4m3(x: number): number {
  const sign = (x >>> 24) & 0x80;
  const a = x & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7f;
  if (a >= 0x43e00000) return sign | 0x7e; // ≥ 448 (and Inf) saturates
  if (a >= 0x3c800000) {
    // normal (≥ 2^-6): rebias exponent 127 → 7, round the 20 dropped mantissa bits to nearest even
    const r = a - 0x3c000000;
    const q = (r + 0x7ffff + ((r >>> 20) & 1)) >>> 20;
    return sign | (q > 0x7e ? 0x7e : q);
  }
  if (a < 0x3a000000) return sign; // below 2^-11: far under half the smallest subnormal (2^-10), so ±0
  // subnormal: value / 2^-9 = m · 2^(e − 141)
  const e = a >>> 23;
  const m = (a & 0x7fffff) | 0x800000;
  const shift = 141 - e;
  let q = m >>> shift;
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (q & 1) === 1)) q++;
  return sign | q;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** e4m3 byte of `x` (first rounded to fp32). */
export function toE4m3(x: number): number {
  f32[0] = x;
  return f32BitsToE4m3(u32[0]!);
}

/** Value of an e4m3 byte. */
export function fromE4m3(b: number): number {
  return e4m3Table()[b & 0xff]!;
}
