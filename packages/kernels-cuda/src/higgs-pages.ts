import {
  type HiggsSpec,
  InvalidArgumentError,
  gaussianGrid2d,
  lloydMaxGaussian,
  randomSigns,
} from '@kvq/core';

/**
 * Pair-code widths `[keys, values]` (bits per code of two channels) the fused HIGGS decode attention
 * kernel is compiled for: aqua-2.5 (K 2.5 / V 2 bits: 5/4), AQUA's 4-bit layer 0 (8/8), aqua-3 (6/5),
 * 3/3-bit layers (6/6), aqua-2 (1.5/1.5: 3/3) and kvq-2's other widths (2/1.5: 4/3, 1/1.5: 2/3, 2/2: 4/4).
 */
export const HIGGS_ATTENTION_CODE_BITS: readonly (readonly [number, number])[] = [
  [5, 4],
  [8, 8],
  [6, 5],
  [6, 6],
  [3, 3],
  [4, 3],
  [2, 3],
  [4, 4],
];

/** Bits of one pair code of a HIGGS spec: a 2-D grid point, or two 1-D levels. */
export function higgsPairCodeBits(spec: HiggsSpec): number {
  return Math.round(2 * spec.bits);
}

/** Why the fused kernel cannot read pages of these K/V specs, or `null` when it can. */
export function higgsAttentionUnsupported(keys: HiggsSpec, values: HiggsSpec): string | null {
  for (const [what, s] of [
    ['keys', keys],
    ['values', values],
  ] as const) {
    if (s.block !== 128)
      return `${what}: Hadamard block ${s.block} (the kernel needs one head, 128 channels)`;
  }
  const cb = [higgsPairCodeBits(keys), higgsPairCodeBits(values)] as const;
  if (!HIGGS_ATTENTION_CODE_BITS.some(([k, v]) => k === cb[0] && v === cb[1]))
    return `bits K ${keys.bits} / V ${values.bits} (pair codes ${cb[0]}/${cb[1]} bits) are not among the compiled widths ${HIGGS_ATTENTION_CODE_BITS.map(([k, v]) => `${k}/${v}`).join(', ')}`;
  return null;
}

/**
 * The point of every pair code, interleaved `[x0, y0, x1, y1, …]` (2^cb points): the 2-D grid itself,
 * or for 1-D levels the pair (level[c & mask], level[c >> bits]) — two codes packed LSB first.
 */
export function higgsPairTable(spec: HiggsSpec): Float32Array {
  if (spec.dim === 2) return gaussianGrid2d(spec.bits);
  const levels = lloydMaxGaussian(spec.bits);
  const n = levels.length;
  if (n !== 1 << spec.bits) throw new InvalidArgumentError(`higgs: ${n} levels for ${spec.bits} bits`);
  const out = new Float32Array(2 * n * n);
  for (let c = 0; c < n * n; c++) {
    out[2 * c] = levels[c & (n - 1)]!;
    out[2 * c + 1] = levels[c >> spec.bits]!;
  }
  return out;
}

/** The seeded signs of a HIGGS spec's Hadamard blocks (FORMAT.md "higgs"). */
export function higgsSigns(spec: HiggsSpec): Float32Array {
  return randomSigns(spec.seed, spec.block);
}
