import { type RopeConfig, applyRope } from '@kvq/core'; // applyRope rotates in place

/**
 * Keys in transformers.js' `past_key_values` are post-RoPE in the Hugging Face rotate-half layout
 * (rotation pairs (i, i + d/2)). kvq's caches, the reference GGUF decoder and the AQUA-KV adapters
 * use pre-RoPE keys in the GGUF layout, where the same pairs are adjacent (2i, 2i + 1): GGUF
 * conversion permutes each head's q/k rows so. These two functions map between them exactly (up to
 * fp32 rounding of the rotation).
 */

/**
 * Head-dim permutation between the two layouts: gguf[2i] = hf[i], gguf[2i + 1] = hf[i + d/2]
 * (`toGguf`), or its inverse.
 */
function permuteHeadDims(
  x: Float32Array,
  heads: number,
  d: number,
  tokens: number,
  toGguf: boolean,
): Float32Array {
  const out = new Float32Array(x.length);
  const half = d / 2;
  for (let r = 0; r < tokens * heads; r++) {
    const o = r * d;
    for (let i = 0; i < half; i++) {
      const g0 = o + 2 * i;
      const h0 = o + i;
      if (toGguf) {
        out[g0] = x[h0]!;
        out[g0 + 1] = x[h0 + half]!;
      } else {
        out[h0] = x[g0]!;
        out[h0 + half] = x[g0 + 1]!;
      }
    }
  }
  return out;
}

/**
 * Post-RoPE Hugging Face keys `[tokens, heads, d]` at positions `start … start + tokens − 1` →
 * pre-RoPE keys in the GGUF layout.
 */
export function hfKeysToPreRope(
  keys: Float32Array,
  tokens: number,
  heads: number,
  d: number,
  start: number,
  rope: RopeConfig,
): Float32Array {
  const unrotated = applyRope(keys.slice(), tokens, heads, d, start, { ...rope, style: 'neox' }, true);
  return permuteHeadDims(unrotated, heads, d, tokens, true);
}

/** Inverse of {@link hfKeysToPreRope}. */
export function preRopeToHfKeys(
  keys: Float32Array,
  tokens: number,
  heads: number,
  d: number,
  start: number,
  rope: RopeConfig,
): Float32Array {
  return applyRope(permuteHeadDims(keys, heads, d, tokens, false), tokens, heads, d, start, {
    ...rope,
    style: 'neox',
  });
}
