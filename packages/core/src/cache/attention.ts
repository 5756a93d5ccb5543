import { InvalidArgumentError } from '../errors.js';

/** Inputs of {@link causalAttention}. */
export interface CausalAttentionInput {
  /** `[qTokens, queryHeads, headDim]` */
  readonly query: Float32Array;
  readonly qTokens: number;
  readonly queryHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** `[kTokens, kvHeads, headDim]`, RoPE applied, positions 0..kTokens−1 */
  readonly keys: Float32Array;
  readonly values: Float32Array;
  readonly kTokens: number;
  /** position of query token 0; query i sees keys at positions ≤ qStart + i */
  readonly qStart: number;
  /** default 1/sqrt(headDim) */
  readonly scale?: number;
  /** when given, receives Σ over query tokens and heads of the attention each key got */
  readonly received?: Float32Array;
}

/** Causal GQA softmax attention in fp32 (the CPU reference). Returns `[qTokens, queryHeads, headDim]`. */
export function causalAttention(input: CausalAttentionInput): Float32Array {
  const { query, qTokens, queryHeads, kvHeads, headDim, keys, values, kTokens, qStart } = input;
  if (queryHeads % kvHeads !== 0)
    throw new InvalidArgumentError('attention: queryHeads must be a multiple of kvHeads');
  if (query.length !== qTokens * queryHeads * headDim) {
    throw new InvalidArgumentError(
      `attention: query must be [${qTokens}, ${queryHeads}, ${headDim}], got ${query.length} values`,
    );
  }
  if (keys.length < kTokens * kvHeads * headDim || values.length < kTokens * kvHeads * headDim) {
    throw new InvalidArgumentError(`attention: keys/values must hold [${kTokens}, ${kvHeads}, ${headDim}]`);
  }
  const scale = input.scale ?? 1 / Math.sqrt(headDim);
  const group = queryHeads / kvHeads;
  const out = new Float32Array(qTokens * queryHeads * headDim);
  const scores = new Float32Array(Math.max(kTokens, 1));
  const kvStride = kvHeads * headDim;
  for (let t = 0; t < qTokens; t++) {
    const visible = Math.min(kTokens, qStart + t + 1);
    for (let h = 0; h < queryHeads; h++) {
      const kvh = Math.floor(h / group);
      const qo = (t * queryHeads + h) * headDim;
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < visible; j++) {
        const ko = j * kvStride + kvh * headDim;
        let s = 0;
        for (let d = 0; d < headDim; d++) s += query[qo + d]! * keys[ko + d]!;
        s *= scale;
        scores[j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = 0; j < visible; j++) {
        const e = Math.exp(scores[j]! - max);
        scores[j] = e;
        sum += e;
      }
      const oo = qo;
      for (let j = 0; j < visible; j++) {
        const p = scores[j]! / sum;
        if (input.received) input.received[j]! += p;
        const vo = j * kvStride + kvh * headDim;
        for (let d = 0; d < headDim; d++) out[oo + d]! += p * values[vo + d]!;
      }
    }
  }
  return out;
}
