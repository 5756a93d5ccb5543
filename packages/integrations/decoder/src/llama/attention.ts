import { matmulTransposed } from '../kernels/matmul.js';

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
  /** the matmul to use (default: the JavaScript tiled kernel) */
  readonly matmul?: typeof matmulTransposed;
}

/**
 * Causal attention: query t (absolute index `kTokens − qTokens + t`) attends to keys
 * `0 ..= kTokens − qTokens + t`, softmax scale 1/sqrt(headDim) (softmax in float64).
 * Per KV head, the GQA group's queries form one matrix, so scores and the weighted sum of values
 * are two tiled matmuls. Returns `[qTokens, queryHeads, headDim]`.
 */
export function chunkAttention(input: ChunkAttentionInput): Float32Array {
  const { query, qTokens, queryHeads, kvHeads, headDim: hd, keys, values, kTokens, received } = input;
  const mm = input.matmul ?? matmulTransposed;
  const past = kTokens - qTokens;
  const group = queryHeads / kvHeads;
  const rows = qTokens * group;
  const scale = 1 / Math.sqrt(hd);
  const out = new Float32Array(qTokens * queryHeads * hd);
  const qg = new Float32Array(rows * hd);
  const kg = new Float32Array(kTokens * hd);
  const vgT = new Float32Array(hd * kTokens);
  const scores = new Float32Array(rows * kTokens);
  const og = new Float32Array(rows * hd);
  const exps = new Float64Array(kTokens);
  const kStride = kvHeads * hd;
  for (let g = 0; g < kvHeads; g++) {
    for (let t = 0; t < qTokens; t++) {
      for (let i = 0; i < group; i++) {
        const src = (t * queryHeads + g * group + i) * hd;
        qg.set(query.subarray(src, src + hd), (t * group + i) * hd);
      }
    }
    for (let j = 0; j < kTokens; j++) {
      const src = j * kStride + g * hd;
      kg.set(keys.subarray(src, src + hd), j * hd);
      for (let d = 0; d < hd; d++) vgT[d * kTokens + j] = values[src + d]!;
    }
    mm(qg, rows, kg, hd, kTokens, undefined, scores);
    for (let r = 0; r < rows; r++) {
      const limit = past + ((r / group) | 0) + 1;
      const o = r * kTokens;
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < limit; j++) {
        const s = scores[o + j]! * scale;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = 0; j < limit; j++) {
        const e = Math.exp(scores[o + j]! * scale - max);
        exps[j] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let j = 0; j < limit; j++) scores[o + j] = exps[j]! * inv;
      scores.fill(0, o + limit, o + kTokens);
      if (received) for (let j = 0; j < past; j++) received[j] += scores[o + j]!;
    }
    mm(scores, rows, vgT, kTokens, hd, undefined, og);
    for (let t = 0; t < qTokens; t++) {
      for (let i = 0; i < group; i++) {
        const src = (t * group + i) * hd;
        out.set(og.subarray(src, src + hd), (t * queryHeads + g * group + i) * hd);
      }
    }
  }
  return out;
}
