import type { RopeConfig } from './backend/types.js';
import { InvalidArgumentError } from './errors.js';

/** The RoPE styles kvq knows, as {@link RopeConfig.style} names them. */
export const ROPE_STYLES: readonly RopeConfig['style'][] = ['interleaved', 'neox'];

/**
 * Which channels of one head RoPE rotates together: pair i is `pairs[i] = [re, im]`, turned by angle
 * θ_i·position ((re + i·im) ↦ e^{iθ_i·pos}·(re + i·im), θ_i = theta^(−2i/dims)).
 */
export interface RopePairing {
  readonly style: RopeConfig['style'];
  readonly headDim: number;
  /** rotated channels per head (even, ≤ headDim) */
  readonly dims: number;
  /** `dims / 2` pairs `[re, im]`, in frequency order */
  readonly pairs: readonly (readonly [re: number, im: number])[];
  /** the channels RoPE leaves as they are: `dims … headDim − 1` */
  readonly unrotated: readonly number[];
  /**
   * int32 `[headDim]`: the channel each channel is rotated with (an involution: `partner[partner[d]] = d`);
   * unrotated channels are their own partner
   */
  readonly partner: Int32Array;
}

/**
 * The RoPE channel pairs of a head of `headDim` channels: `style` `'interleaved'` pairs (2i, 2i+1)
 * (llama.cpp / GGUF), `'neox'` pairs (i, i + dims/2) (Hugging Face rotate_half); `dims` rotated
 * channels (default: headDim), channels ≥ dims are not rotated. Throws {@link InvalidArgumentError}
 * for an unknown style, a headDim that is not a positive integer, or a dims that is not an even
 * integer in [2, headDim].
 */
export function ropePairs(
  headDim: number,
  rope: Pick<RopeConfig, 'style'> & Partial<Pick<RopeConfig, 'dims'>>,
): RopePairing {
  if (!rope || !ROPE_STYLES.includes(rope.style)) {
    throw new InvalidArgumentError(
      `rope.style must be 'interleaved' or 'neox', got ${JSON.stringify(rope?.style)}`,
    );
  }
  if (!Number.isInteger(headDim) || headDim <= 0) {
    throw new InvalidArgumentError(`rope: headDim must be a positive integer, got ${headDim}`);
  }
  const dims = rope.dims ?? headDim;
  if (!Number.isInteger(dims) || dims < 2 || dims > headDim || dims % 2 !== 0) {
    throw new InvalidArgumentError(
      rope.dims === undefined
        ? `rope: rope.dims defaults to headDim, which must then be even (RoPE rotates channel pairs), got headDim ${headDim}`
        : `rope.dims must be an even integer in [2, headDim = ${headDim}], got ${rope.dims}`,
    );
  }
  const half = dims / 2;
  const pairs: (readonly [number, number])[] = [];
  const partner = Int32Array.from({ length: headDim }, (_, d) => d);
  for (let i = 0; i < half; i++) {
    const pair = rope.style === 'interleaved' ? ([2 * i, 2 * i + 1] as const) : ([i, i + half] as const);
    pairs.push(pair);
    partner[pair[0]] = pair[1];
    partner[pair[1]] = pair[0];
  }
  const unrotated: number[] = [];
  for (let d = dims; d < headDim; d++) unrotated.push(d);
  return { style: rope.style, headDim, dims, pairs, unrotated, partner };
}
