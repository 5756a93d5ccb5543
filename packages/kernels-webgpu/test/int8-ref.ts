/**
 * CPU model of `DecodeAttention`'s `keyDot: 'int8'` path (used by the tests and the device bench):
 * the query rounded to int8 exactly as the kernel's fold does it, then fp64 scores, softmax and
 * values.
 *
 * What the kernel computes per (key group, query head), in f32: `qraw = q·scale` (scale as the f32
 * uniform), `w_d = qraw_d·s_d` (s_d the group's fp16 scale, exact in f32), `Δ = 2^e` with e the
 * smallest integer such that `max_d |w_d| ≤ 127·2^e` (max < 2^-100 counts as 0: Δ = 1, all bytes 0),
 * `qi_d = round_half_even(w_d·2^-e)` (exact product), and per token the score
 * `Δ·Σ_d qi_d·code_d + Σ_d qraw_d·m_d`. Each of those f32 products is one correctly rounded
 * multiplication, mirrored here with `Math.fround`; the integer dot is exact on both sides; only the
 * bias sum and the final `fma` are rounded in f32 on the GPU and not here (≈ 1e-7 relative).
 */
import { type EncodedBlock, type UniformSpec, fromFloat16Bits, unpackBits } from '@kvq/core';

/** Round half to even (WGSL `round`). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/**
 * The step `2^e` for weights of max magnitude `mx`: the smallest integer e with `mx ≤ qmax·2^e`,
 * found by exact power-of-two arithmetic (independent of the kernel's f32-bit formula); mx < 2^-100
 * → step 1 and every weight rounds to 0 (`inv` 0).
 */
export function int8Step(mx: number, qmax = 127): { step: number; inv: number } {
  if (!(mx >= 2 ** -100)) return { step: 1, inv: 0 };
  let e = Math.floor(Math.log2(mx)) - 12;
  while (mx > qmax * 2 ** e) e++;
  while (e > -1100 && mx <= qmax * 2 ** (e - 1)) e--;
  return { step: 2 ** e, inv: 2 ** -e };
}

/** One sequence's uniform channel-axis key blocks, split into scales, mins and codes per token. */
function keyFields(
  blocks: readonly EncodedBlock[],
  spec: UniformSpec,
  Hkv: number,
  D: number,
): {
  N: number;
  scale: (t: number, c: number) => number;
  min: (t: number, c: number) => number;
  code: (t: number, c: number) => number;
} {
  const C = Hkv * D;
  const bt = blocks[0]!.shape.tokens;
  const gs = spec.groupSize;
  const nGroups = (bt / gs) * C;
  const s = new Float64Array(blocks.length * nGroups);
  const m = new Float64Array(blocks.length * nGroups);
  const codes = new Uint8Array(blocks.length * bt * C);
  blocks.forEach((b, j) => {
    const dv = new DataView(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength);
    for (let g = 0; g < nGroups; g++) {
      s[j * nGroups + g] = fromFloat16Bits(dv.getUint16(2 * g, true));
      m[j * nGroups + g] = fromFloat16Bits(dv.getUint16(2 * nGroups + 2 * g, true));
    }
    codes.set(unpackBits(b.bytes.subarray(nGroups * 4), spec.bits, bt * C) as Uint8Array, j * bt * C);
  });
  const gi = (t: number, c: number) => Math.floor(t / bt) * nGroups + Math.floor((t % bt) / gs) * C + c;
  return {
    N: blocks.length * bt,
    scale: (t, c) => s[gi(t, c)]!,
    min: (t, c) => m[gi(t, c)]!,
    code: (t, c) => codes[t * C + c]!,
  };
}

/**
 * Variants of the model that the kernel does NOT implement, used as controls in the tests (to show
 * that a test would notice them): `qmax` < 127 rounds the query coarser; `exactW` skips the f32
 * rounding of `w = qraw·s`; `halfUp` rounds ties away from zero instead of to even.
 */
export interface Int8ModelVariant {
  readonly qmax?: number;
  readonly exactW?: boolean;
  readonly halfUp?: boolean;
}

/** Scores `[Hq, N]` of one sequence as the int8 path computes them (softmax scale included). */
export function int8KeyScores(
  q: Float32Array,
  Hq: number,
  Hkv: number,
  D: number,
  blocks: readonly EncodedBlock[],
  spec: UniformSpec,
  scale = 1 / Math.sqrt(D),
  variant: Int8ModelVariant = {},
): Float64Array {
  const qmax = variant.qmax ?? 127;
  const rnd = variant.halfUp ? (x: number) => Math.sign(x) * Math.round(Math.abs(x)) : roundHalfEven;
  const f = keyFields(blocks, spec, Hkv, D);
  const N = f.N;
  const G = Hq / Hkv;
  const sc = Math.fround(scale);
  const gs = spec.groupSize;
  const out = new Float64Array(Hq * N);
  const qraw = new Float64Array(D);
  const qi = new Float64Array(D);
  const w = new Float64Array(D);
  for (let h = 0; h < Hq; h++) {
    const hk = Math.floor(h / G);
    for (let d = 0; d < D; d++) qraw[d] = Math.fround(q[h * D + d]! * sc);
    for (let t0 = 0; t0 < N; t0 += gs) {
      let mx = 0;
      let bias = 0;
      for (let d = 0; d < D; d++) {
        const c = hk * D + d;
        w[d] = variant.exactW ? qraw[d]! * f.scale(t0, c) : Math.fround(qraw[d]! * f.scale(t0, c));
        mx = Math.max(mx, Math.abs(w[d]!));
        bias += qraw[d]! * f.min(t0, c);
      }
      const { step, inv } = int8Step(mx, qmax);
      for (let d = 0; d < D; d++) qi[d] = rnd(w[d]! * inv);
      for (let t = t0; t < Math.min(N, t0 + gs); t++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += qi[d]! * f.code(t, hk * D + d);
        out[h * N + t] = step * dot + bias;
      }
    }
  }
  return out;
}

/** fp64 softmax(scores) · V for one sequence: scores `[Hq, N]`, V `[N, Hkv, D]` → `[Hq, D]`. */
export function attendScores(
  scores: Float64Array,
  Hq: number,
  Hkv: number,
  D: number,
  V: Float32Array,
  N: number,
): Float64Array {
  const G = Hq / Hkv;
  const out = new Float64Array(Hq * D);
  const p = new Float64Array(N);
  for (let h = 0; h < Hq; h++) {
    const hk = Math.floor(h / G);
    let m = Number.NEGATIVE_INFINITY;
    for (let t = 0; t < N; t++) m = Math.max(m, scores[h * N + t]!);
    let sum = 0;
    for (let t = 0; t < N; t++) {
      p[t] = Math.exp(scores[h * N + t]! - m);
      sum += p[t]!;
    }
    for (let d = 0; d < D; d++) {
      let a = 0;
      for (let t = 0; t < N; t++) a += p[t]! * V[(t * Hkv + hk) * D + d]!;
      out[h * D + d] = a / sum;
    }
  }
  return out;
}

/** The int8 path's attention for one sequence (values: the exactly dequantized V `[N, Hkv, D]`). */
export function int8RefAttention(
  q: Float32Array,
  Hq: number,
  Hkv: number,
  D: number,
  keyBlocks: readonly EncodedBlock[],
  keySpec: UniformSpec,
  V: Float32Array,
  variant: Int8ModelVariant = {},
): Float64Array {
  const s = int8KeyScores(q, Hq, Hkv, D, keyBlocks, keySpec, 1 / Math.sqrt(D), variant);
  return attendScores(s, Hq, Hkv, D, V, s.length / Hq);
}
