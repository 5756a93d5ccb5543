/**
 * Generic block packer: `[nHalves fp16 fields][nCodes codes of `bits` bits]` as one LSB-first bit
 * stream (FORMAT.md: sections follow each other with no padding). Inputs are one u32 per field
 * and one u32 per code; one thread per output u32 word.
 */
import { ELEMENTWISE_WG, elementwiseMain } from './common.wgsl.js';

/** Params: nHalves, nCodes, nWords. Bindings: 1 = halves u32[nHalves], 2 = codes u32[nCodes], 3 = out u32[nWords]. */
export function packWgsl(bits: number): string {
  return `struct P { nHalves: u32, nCodes: u32, nWords: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> halves: array<u32>;
@group(0) @binding(2) var<storage, read> codes: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
${elementwiseMain(
  ELEMENTWISE_WG,
  `  if (i >= p.nWords) { return; }
  var w = 0u;
  let h0 = 2u * i;
  if (h0 < p.nHalves) { w = w | (halves[h0] & 0xffffu); }
  if (h0 + 1u < p.nHalves) { w = w | ((halves[h0 + 1u] & 0xffffu) << 16u); }
  let cb = 16u * p.nHalves; // first code bit
  let lo = 32u * i; let hi = lo + 32u;
  if (hi > cb && p.nCodes > 0u) {
    var e = select(0u, (lo - cb) / ${bits}u, lo > cb);
    loop {
      if (e >= p.nCodes) { break; }
      let pos = cb + e * ${bits}u;
      if (pos >= hi) { break; }
      let c = codes[e] & ${(1 << bits) - 1}u;
      if (pos >= lo) { w = w | (c << (pos - lo)); } else { w = w | (c >> (lo - pos)); }
      e = e + 1u;
    }
  }
  out[i] = w;`,
)}`;
}

/** WGSL: `code_at(bitBase, e)` reads code e (of `bits` bits) of the stream starting at bit `bitBase` of `src`. */
export function bitCodeReaderWgsl(src: string, bits: number): string {
  return `fn code_at(bitBase: u32, e: u32) -> u32 {
  let pos = bitBase + e * ${bits}u;
  let w = pos >> 5u;
  let sh = pos & 31u;
  var v = ${src}[w] >> sh;
  if (sh + ${bits}u > 32u) { v = v | (${src}[w + 1u] << (32u - sh)); }
  return v & ${(1 << bits) - 1}u;
}
fn half_bits(h: u32) -> u32 { return (${src}[h >> 1u] >> ((h & 1u) * 16u)) & 0xffffu; }`;
}
