/**
 * WGSL helpers shared by the kernels: exact fp16 conversion on u32 bit patterns (no shader-f16
 * needed), fp16 fields read from u32 words, round half away from zero, the 2-D dispatch index.
 */

/** Workgroup size of the elementwise kernels. */
export const ELEMENTWISE_WG = 256;

/** Exact fp32 → fp16 bits (round to nearest even), a port of @kvq/core's f32BitsToF16Bits. */
export const F16_WGSL = /* wgsl */ `
fn f32_to_f16_bits(x: f32) -> u32 {
  let bits = bitcast<u32>(x);
  let sign = (bits >> 16u) & 0x8000u;
  let a = bits & 0x7fffffffu;
  if (a >= 0x7f800000u) { return sign | select(0x7c00u, 0x7e00u, a > 0x7f800000u); }
  if (a >= 0x477ff000u) { return sign | 0x7c00u; }
  if (a >= 0x38800000u) {
    let r = a - 0x38000000u;
    return sign | ((r + 0xfffu + ((r >> 13u) & 1u)) >> 13u);
  }
  if (a < 0x33000000u) { return sign; }
  let e = a >> 23u;
  let m = (a & 0x7fffffu) | 0x800000u;
  let shift = 126u - e;
  var q = m >> shift;
  let rem = m & ((1u << shift) - 1u);
  let half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (q & 1u) == 1u)) { q = q + 1u; }
  return sign | q;
}
// Exact fp16 bits → fp32 (Inf/NaN patterns are the caller's business).
fn f16_bits_to_f32(h: u32) -> f32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) {
    let v = f32(m) * 5.9604644775390625e-8;
    return select(v, -v, sign != 0u);
  }
  if (e == 31u) { return bitcast<f32>(sign | 0x7f800000u | (m << 13u)); }
  return bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u));
}
fn f16_is_finite(h: u32) -> bool { return (h & 0x7c00u) != 0x7c00u; }
fn round_away(x: f32) -> f32 {
  let f = floor(x);
  return select(f, f + 1.0, x - f >= 0.5);
}
`;

/** WGSL: the linear invocation index of a 2-D dispatch of 1-D workgroups of `wg` threads. */
export function linearIndex(wg: number): string {
  return `(wid.y * nwg.x + wid.x) * ${wg}u + lid`;
}

/** Entry-point signature of an elementwise kernel (`i` is the linear index). */
export function elementwiseMain(wg: number, body: string): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = ${linearIndex(wg)};
${body}
}`;
}
