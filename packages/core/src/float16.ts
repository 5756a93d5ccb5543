/**
 * fp16 (IEEE binary16) and bf16 conversion, scalar and bulk, all round-to-nearest-even.
 *
 * - fp16 encode works on the fp32 bit pattern (every kvq input is fp32), so a value is rounded
 *   once, fp32 → fp16. It is checked against `@petamoriken/float16` (tests), and fp16 decode uses
 *   a 65 536-entry table built from that library's `getFloat16`.
 * - bf16 is the top 16 bits of fp32, rounded to nearest even; NaN stays a (quiet) NaN.
 *
 * Values beyond the fp16 range round to ±Inf (as IEEE does); callers that store fp16 reject
 * those earlier with a typed error.
 */
import { getFloat16 } from '@petamoriken/float16';
import { ShapeError } from './errors.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Largest finite fp16 value. */
export const FP16_MAX = 65504;

/** fp16 bits (RNE) of an fp32 bit pattern `x` (a uint32). */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const a = x & 0x7fffffff;
  if (a >= 0x7f800000) return sign | (a > 0x7f800000 ? 0x7e00 : 0x7c00); // NaN / Inf
  if (a >= 0x477ff000) return sign | 0x7c00; // ≥ 65520 rounds to Inf
  if (a >= 0x38800000) {
    // normal fp16: rebias the exponent, round the 13 dropped mantissa bits to nearest even
    const r = a - 0x38000000;
    return sign | ((r + 0xfff + ((r >>> 13) & 1)) >>> 13);
  }
  if (a < 0x33000000) return sign; // below 2^-25: rounds to ±0 (2^-25 itself is a tie to 0)
  // subnormal fp16: value / 2^-24 = m · 2^(e − 126)
  const e = a >>> 23;
  const m = (a & 0x7fffff) | 0x800000;
  const shift = 126 - e;
  let q = m >>> shift;
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (q & 1) === 1)) q++;
  return sign | q;
}

let f16Table: Float32Array | null = null;

/** The 65 536 fp16 values as fp32, indexed by bit pattern (built once, lazily). */
export function float16Table(): Float32Array {
  if (f16Table === null) {
    const t = new Float32Array(65536);
    const dv = new DataView(new ArrayBuffer(2));
    for (let h = 0; h < 65536; h++) {
      dv.setUint16(0, h, true);
      t[h] = getFloat16(dv, 0, true);
    }
    f16Table = t;
  }
  return f16Table;
}

/** fp16 bits of `x` (first rounded to fp32, then to fp16 with round-to-nearest-even). */
export function toFloat16Bits(x: number): number {
  f32[0] = x;
  return f32BitsToF16Bits(u32[0]!);
}

/** The value of fp16 bits `h` (0..65535). */
export function fromFloat16Bits(h: number): number {
  return float16Table()[h & 0xffff]!;
}

/** `x` rounded to the nearest fp16 value (via fp32), as a number. */
export function roundToFloat16(x: number): number {
  return fromFloat16Bits(toFloat16Bits(x));
}

/** bf16 bits (RNE) of an fp32 bit pattern `x`. NaN maps to a quiet NaN with the same sign. */
export function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** bf16 bits of `x` (first rounded to fp32). */
export function toBfloat16Bits(x: number): number {
  f32[0] = x;
  return f32BitsToBf16Bits(u32[0]!);
}

/** The value of bf16 bits `h`. */
export function fromBfloat16Bits(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

function checkOut<T extends Uint16Array | Float32Array>(what: string, out: T, n: number): T {
  if (out.length < n) throw new ShapeError(what, [n], [out.length]);
  return out;
}

/** Bulk fp32 → fp16 bits. `out` (allocated when omitted) must hold `src.length` values. */
export function float32ToFloat16Bits(src: Float32Array, out?: Uint16Array): Uint16Array {
  const n = src.length;
  const dst = out ? checkOut('float32ToFloat16Bits out', out, n) : new Uint16Array(n);
  const bits = new Uint32Array(src.buffer, src.byteOffset, n);
  for (let i = 0; i < n; i++) dst[i] = f32BitsToF16Bits(bits[i]!);
  return dst;
}

/** Bulk fp16 bits → fp32. */
export function float16BitsToFloat32(src: Uint16Array, out?: Float32Array): Float32Array {
  const n = src.length;
  const dst = out ? checkOut('float16BitsToFloat32 out', out, n) : new Float32Array(n);
  const t = float16Table();
  for (let i = 0; i < n; i++) dst[i] = t[src[i]!]!;
  return dst;
}

/** Bulk fp32 → bf16 bits (RNE). */
export function float32ToBfloat16Bits(src: Float32Array, out?: Uint16Array): Uint16Array {
  const n = src.length;
  const dst = out ? checkOut('float32ToBfloat16Bits out', out, n) : new Uint16Array(n);
  const bits = new Uint32Array(src.buffer, src.byteOffset, n);
  for (let i = 0; i < n; i++) dst[i] = f32BitsToBf16Bits(bits[i]!);
  return dst;
}

/** Bulk bf16 bits → fp32. */
export function bfloat16BitsToFloat32(src: Uint16Array, out?: Float32Array): Float32Array {
  const n = src.length;
  const dst = out ? checkOut('bfloat16BitsToFloat32 out', out, n) : new Float32Array(n);
  const o = new Uint32Array(dst.buffer, dst.byteOffset, n);
  for (let i = 0; i < n; i++) o[i] = src[i]! << 16;
  return dst;
}
