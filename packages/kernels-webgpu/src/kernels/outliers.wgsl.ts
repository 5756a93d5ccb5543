/**
 * Outliers (FORMAT.md "outliers"): the k largest |x| per token (axis 'token') or per channel
 * (axis 'channel') kept as fp16 value + u16 index, ascending index order; the rest goes through
 * the inner quantizer with those positions zeroed.
 * - `outlierSelectWgsl`: one thread per row (token or channel): k passes of "largest below the
 *   previous pick" (|x| descending, index ascending on ties), then indices sorted ascending;
 *   writes value halves, index halves, and zeroes the picks in the copy given to the inner quantizer.
 * - `outlierScatterWgsl`: decode side, one thread per outlier: writes its fp16 value at its position;
 *   status bit 0 for a non-finite value, an index out of range or not strictly ascending.
 */
import { ELEMENTWISE_WG, F16_WGSL, elementwiseMain } from './common.wgsl.js';

/** Largest `count` the WGSL select kernel handles. */
export const OUTLIERS_MAX_K = 64;

/** Params: T, C, k. Bindings: 1 = x, 2 = xz (copy of x; picks zeroed), 3 = values u32 [rows·k] (fp16 bits), 4 = indices u32 [rows·k], 5 = status. */
export function outlierSelectWgsl(axis: 'token' | 'channel'): string {
  const [rows, len, at] =
    axis === 'token' ? ['p.T', 'p.C', 'row * p.C + e'] : ['p.C', 'p.T', 'e * p.C + row'];
  return `${F16_WGSL}
struct P { T: u32, C: u32, k: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> xz: array<f32>;
@group(0) @binding(3) var<storage, read_write> vals: array<u32>;
@group(0) @binding(4) var<storage, read_write> idx: array<u32>;
@group(0) @binding(5) var<storage, read_write> status: atomic<u32>;
${elementwiseMain(
  ELEMENTWISE_WG,
  `  let row = i;
  if (row >= ${rows}) { return; }
  var pick: array<u32, ${OUTLIERS_MAX_K}>;
  var pa = 3.4028234663852886e38; var pi = 0u; var first = true;
  for (var r = 0u; r < p.k; r = r + 1u) {
    var ba = -1.0; var bi = 0u;
    for (var e = 0u; e < ${len}; e = e + 1u) {
      let a = abs(xs[${at}]);
      // strictly after the previous pick in (|x| desc, index asc) order
      let after = first || a < pa || (a == pa && e > pi);
      if (after && (a > ba)) { ba = a; bi = e; }
    }
    pick[r] = bi; pa = ba; pi = bi; first = false;
  }
  for (var r = 1u; r < p.k; r = r + 1u) {
    let v = pick[r]; var q = r;
    while (q > 0u && pick[q - 1u] > v) { pick[q] = pick[q - 1u]; q = q - 1u; }
    pick[q] = v;
  }
  for (var r = 0u; r < p.k; r = r + 1u) {
    let e = pick[r];
    let h = f32_to_f16_bits(xs[${at}]);
    if (!f16_is_finite(h)) { atomicOr(&status, 1u); }
    vals[row * p.k + r] = h;
    idx[row * p.k + r] = e;
    xz[${at}] = 0.0;
  }`,
)}`;
}

/** Params: T, C, k, nOut. Bindings: 1 = block words (outlier sections first), 2 = out f32 (inner decode already there), 3 = status. */
export function outlierScatterWgsl(axis: 'token' | 'channel'): string {
  const [len, at] = axis === 'token' ? ['p.C', 'row * p.C + e'] : ['p.T', 'e * p.C + row'];
  return `${F16_WGSL}
struct P { T: u32, C: u32, k: u32, nOut: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> blk: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> status: atomic<u32>;
fn half_bits(h: u32) -> u32 { return (blk[h >> 1u] >> ((h & 1u) * 16u)) & 0xffffu; }
${elementwiseMain(
  ELEMENTWISE_WG,
  `  if (i >= p.nOut) { return; }
  let row = i / p.k; let r = i % p.k;
  let h = half_bits(i);
  let e = half_bits(p.nOut + i);
  if (!f16_is_finite(h) || e >= ${len} || (r > 0u && half_bits(p.nOut + i - 1u) >= e)) { atomicOr(&status, 1u); return; }
  out[${at}] = f16_bits_to_f32(h);`,
)}`;
}
