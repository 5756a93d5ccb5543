import type { RopeConfig } from '@kvq/core';

/**
 * Precomputed RoPE angles for one configuration. Pair `i` of a head (i < dims/2) rotates by
 * `(pos / scale) · theta^(−2i/dims)`. `interleaved` pairs dims (2i, 2i+1) (llama.cpp / GGUF
 * "normal" mode); `neox` pairs (i, i + dims/2) (HF rotate-half). Dims ≥ `dims` are not rotated.
 */
export class RopeTable {
  readonly #freqs: Float64Array;
  #cos = new Float32Array(0);
  #sin = new Float32Array(0);
  #positions = 0;

  constructor(
    readonly cfg: RopeConfig,
    readonly headDim: number,
  ) {
    const half = cfg.dims / 2;
    this.#freqs = new Float64Array(half);
    for (let i = 0; i < half; i++) this.#freqs[i] = cfg.theta ** ((-2 * i) / cfg.dims) / (cfg.scale ?? 1);
  }

  #ensure(positions: number): void {
    if (positions <= this.#positions) return;
    const n = Math.max(positions, this.#positions * 2, 64);
    const half = this.cfg.dims / 2;
    this.#cos = new Float32Array(n * half);
    this.#sin = new Float32Array(n * half);
    for (let p = 0; p < n; p++) {
      for (let i = 0; i < half; i++) {
        const a = p * this.#freqs[i]!;
        this.#cos[p * half + i] = Math.cos(a);
        this.#sin[p * half + i] = Math.sin(a);
      }
    }
    this.#positions = n;
  }

  /**
   * Rotates `x[tokens, heads, headDim]` in place; token t is at position `start + t`.
   * `inverse` rotates by the opposite angle (undoes RoPE).
   */
  apply(x: Float32Array, tokens: number, heads: number, start: number, inverse = false): Float32Array {
    this.#ensure(start + tokens);
    const hd = this.headDim;
    const half = this.cfg.dims / 2;
    const sign = inverse ? -1 : 1;
    const cosT = this.#cos;
    const sinT = this.#sin;
    const interleaved = this.cfg.style === 'interleaved';
    for (let t = 0; t < tokens; t++) {
      const tb = (start + t) * half;
      for (let h = 0; h < heads; h++) {
        const o = (t * heads + h) * hd;
        for (let i = 0; i < half; i++) {
          const c = cosT[tb + i]!;
          const s = sign * sinT[tb + i]!;
          const a = interleaved ? o + 2 * i : o + i;
          const b = interleaved ? a + 1 : a + half;
          const x0 = x[a]!;
          const x1 = x[b]!;
          x[a] = x0 * c - x1 * s;
          x[b] = x0 * s + x1 * c;
        }
      }
    }
    return x;
  }
}
