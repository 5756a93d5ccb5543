import { InvalidArgumentError } from '../../errors.js';
import { ropePairs } from '../../rope-pairs.js';
import type { RopeConfig } from '../types.js';

/**
 * Applies RoPE in place to `x` `[tokens, heads, headDim]`, token t at position `positions[t]`
 * (or `start + t` when `positions` is a number), pair i of {@link ropePairs} by angle
 * position·theta^(−2i/dims): `interleaved` rotates adjacent pairs (2i, 2i+1) as llama.cpp does;
 * `neox` rotates (i, i + dims/2) as Hugging Face's rotate_half does.
 * `inverse` rotates by the opposite angle (undoes RoPE).
 */
export function applyRope(
  x: Float32Array,
  tokens: number,
  heads: number,
  headDim: number,
  positions: Int32Array | number,
  cfg: RopeConfig,
  inverse = false,
): Float32Array {
  const dims = cfg.dims;
  if (dims % 2 !== 0 || dims > headDim || dims <= 0) {
    throw new InvalidArgumentError(`rope: dims must be even and ≤ headDim (${headDim}), got ${dims}`);
  }
  if (x.length !== tokens * heads * headDim) {
    throw new InvalidArgumentError(
      `rope: x must be [${tokens}, ${heads}, ${headDim}], got ${x.length} values`,
    );
  }
  const { pairs } = ropePairs(headDim, cfg);
  const half = dims / 2;
  const re = Int32Array.from(pairs, (p) => p[0]);
  const im = Int32Array.from(pairs, (p) => p[1]);
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = cfg.theta ** (-(2 * i) / dims);
  const scale = cfg.scale ?? 1;
  const sign = inverse ? -1 : 1;
  const cos = new Float32Array(half);
  const sin = new Float32Array(half);
  for (let t = 0; t < tokens; t++) {
    const pos = (typeof positions === 'number' ? positions + t : positions[t]!) / scale;
    for (let i = 0; i < half; i++) {
      const a = pos * invFreq[i]!;
      cos[i] = Math.cos(a);
      sin[i] = sign * Math.sin(a);
    }
    for (let h = 0; h < heads; h++) {
      const o = (t * heads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const i0 = o + re[i]!;
        const i1 = o + im[i]!;
        const a = x[i0]!;
        const b = x[i1]!;
        x[i0] = a * cos[i]! - b * sin[i]!;
        x[i1] = a * sin[i]! + b * cos[i]!;
      }
    }
  }
  return x;
}
