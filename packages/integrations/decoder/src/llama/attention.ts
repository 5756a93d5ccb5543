/** Inputs of causal GQA attention of a chunk of queries over keys/values already RoPE'd. */
export interface ChunkAttentionInput {
  /** `[qTokens, queryHeads, headDim]`, RoPE applied */
  readonly query: Float32Array;
  readonly qTokens: number;
  readonly queryHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** `[kTokens, kvHeads, headDim]`, RoPE applied; the last `qTokens` keys are the queries' own */
  readonly keys: Float32Array;
  readonly values: Float32Array;
  readonly kTokens: number;
  /**
   * When given (length ≥ kTokens − qTokens), receives += the softmax probability mass each earlier
   * (cached) key got, summed over query heads and query tokens.
   */
  readonly received?: Float32Array;
}

/**
 * Causal attention: query t (absolute index `kTokens − qTokens + t`) attends to keys
 * `0 ..= kTokens − qTokens + t`, softmax scale 1/sqrt(headDim), computed in float64.
 * Returns `[qTokens, queryHeads, headDim]`.
 */
export function chunkAttention(input: ChunkAttentionInput): Float32Array {
  const { query, qTokens, queryHeads, kvHeads, headDim: hd, keys, values, kTokens, received } = input;
  const past = kTokens - qTokens;
  const group = queryHeads / kvHeads;
  const scale = 1 / Math.sqrt(hd);
  const out = new Float32Array(qTokens * queryHeads * hd);
  const scores = new Float64Array(kTokens);
  const acc = new Float64Array(hd);
  const kStride = kvHeads * hd;
  for (let t = 0; t < qTokens; t++) {
    const limit = past + t + 1;
    for (let h = 0; h < queryHeads; h++) {
      const g = (h / group) | 0;
      const qo = (t * queryHeads + h) * hd;
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < limit; j++) {
        const ko = j * kStride + g * hd;
        let s = 0;
        for (let d = 0; d < hd; d++) s += query[qo + d]! * keys[ko + d]!;
        s *= scale;
        scores[j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = 0; j < limit; j++) {
        const e = Math.exp(scores[j]! - max);
        scores[j] = e;
        sum += e;
      }
      acc.fill(0);
      const inv = 1 / sum;
      for (let j = 0; j < limit; j++) {
        const p = scores[j]! * inv;
        const vo = j * kStride + g * hd;
        for (let d = 0; d < hd; d++) acc[d] += p * values[vo + d]!;
        if (received && j < past) received[j] += p;
      }
      for (let d = 0; d < hd; d++) out[qo + d] = acc[d]!;
    }
  }
  return out;
}
