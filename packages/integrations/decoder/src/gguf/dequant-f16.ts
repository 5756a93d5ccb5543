/** IEEE half → float conversion table (65,536 entries, built once on first use). */
let table: Float32Array | null = null;

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The float value of every IEEE binary16 bit pattern. */
export function halfTable(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) table[i] = halfToFloat(i);
  }
  return table;
}

/** Dequantizes `count` little-endian IEEE half values starting at `bytes[0]` into `out`. */
export function dequantF16(bytes: Uint8Array, count: number, out: Float32Array): Float32Array {
  const t = halfTable();
  for (let i = 0, p = 0; i < count; i++, p += 2) out[i] = t[bytes[p]! | (bytes[p + 1]! << 8)]!;
  return out;
}

/** Dequantizes `count` little-endian bfloat16 values into `out`. */
export function dequantBF16(bytes: Uint8Array, count: number, out: Float32Array): Float32Array {
  const u = new Uint32Array(out.buffer, out.byteOffset, count);
  for (let i = 0, p = 0; i < count; i++, p += 2) u[i] = ((bytes[p]! | (bytes[p + 1]! << 8)) << 16) >>> 0;
  return out;
}

/** Copies `count` little-endian f32 values into `out` (works for unaligned input). */
export function dequantF32(bytes: Uint8Array, count: number, out: Float32Array): Float32Array {
  new Uint8Array(out.buffer, out.byteOffset, count * 4).set(bytes.subarray(0, count * 4));
  return out;
}
