/**
 * fp64 attention references and encoded K/V fixtures, shared by the tests and the device bench
 * (`bench/device.ts` bundles this file).
 */
import { type EncodedBlock, type QuantizerSpec, createQuantizer } from '@kvq/core';
import type { DecodeAttentionShape } from '../src/index.js';

/** fp64 causal GQA attention over dense K/V `[N, Hkv, D]`, queries `[qTokens, Hq, D]`. */
export function refAttention(
  q: Float32Array,
  qTokens: number,
  Hq: number,
  Hkv: number,
  D: number,
  qStart: number,
  K: Float32Array,
  V: Float32Array,
  N: number,
  scale = 1 / Math.sqrt(D),
): Float64Array {
  const out = new Float64Array(qTokens * Hq * D);
  const G = Hq / Hkv;
  for (let t = 0; t < qTokens; t++) {
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / G);
      const last = Math.min(N, qStart + t + 1);
      const s = new Float64Array(last);
      let m = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < last; j++) {
        let acc = 0;
        for (let d = 0; d < D; d++) acc += q[(t * Hq + h) * D + d]! * K[(j * Hkv + hk) * D + d]!;
        s[j] = acc * scale;
        m = Math.max(m, s[j]!);
      }
      let sum = 0;
      for (let j = 0; j < last; j++) {
        s[j] = Math.exp(s[j]! - m);
        sum += s[j]!;
      }
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let j = 0; j < last; j++) acc += s[j]! * V[(j * Hkv + hk) * D + d]!;
        out[(t * Hq + h) * D + d] = acc / sum;
      }
    }
  }
  return out;
}

/** K/V of a batch encoded block by block, with each sequence's decoded cache for fp64 references. */
export interface EncodedKvBlocks {
  /** [sequence][block] */
  readonly keys: EncodedBlock[][];
  readonly values: EncodedBlock[][];
  /** [sequence]: decoded K / V, [blocks·blockTokens, kvHeads, headDim] */
  readonly kDecoded: Float32Array[];
  readonly vDecoded: Float32Array[];
}

/**
 * Encodes `batch` sequences of `blocks` blocks with `kSpec` / `vSpec`: `draw(seq, block)` gives the
 * block's raw K and V (`[blockTokens, kvHeads, headDim]`), called in sequence-then-block order.
 */
export function encodeKvBlocks(
  kSpec: QuantizerSpec,
  vSpec: QuantizerSpec,
  shape: { batch: number; blocks: number; blockTokens: number; kvHeads: number; headDim: number },
  draw: (seq: number, block: number) => { k: Float32Array; v: Float32Array },
): EncodedKvBlocks {
  const kq = createQuantizer(kSpec);
  const vq = createQuantizer(vSpec);
  const bs = { tokens: shape.blockTokens, kvHeads: shape.kvHeads, headDim: shape.headDim };
  const n = shape.blockTokens * shape.kvHeads * shape.headDim;
  const out: EncodedKvBlocks = { keys: [], values: [], kDecoded: [], vDecoded: [] };
  for (let s = 0; s < shape.batch; s++) {
    const ks: EncodedBlock[] = [];
    const vs: EncodedBlock[] = [];
    const kd = new Float32Array(shape.blocks * n);
    const vd = new Float32Array(shape.blocks * n);
    for (let j = 0; j < shape.blocks; j++) {
      const { k, v } = draw(s, j);
      ks.push(kq.encode(k, bs));
      vs.push(vq.encode(v, bs));
      kd.set(kq.decode(ks[j]!), j * n);
      vd.set(vq.decode(vs[j]!), j * n);
    }
    out.keys.push(ks);
    out.values.push(vs);
    out.kDecoded.push(kd);
    out.vDecoded.push(vd);
  }
  return out;
}

/**
 * fp64 references of one decode step per sequence: the query `[batch, Hq, D]` at position `tokens − 1`
 * attending to the sequence's decoded K/V of `kv` (its first `tokens` tokens); `d` is the step's shape,
 * e.g. `DecodeAttention.shape`.
 */
export function decodeReferences(
  q: Float32Array,
  kv: Pick<EncodedKvBlocks, 'kDecoded' | 'vDecoded'>,
  d: DecodeAttentionShape,
): Float64Array[] {
  const n = d.queryHeads * d.headDim;
  return Array.from({ length: d.batch }, (_, s) =>
    refAttention(
      q.subarray(s * n, (s + 1) * n),
      1,
      d.queryHeads,
      d.kvHeads,
      d.headDim,
      d.tokens - 1,
      kv.kDecoded[s]!,
      kv.vDecoded[s]!,
      d.tokens,
    ),
  );
}

/** The largest of `metric(sequence's output, its reference)` over the sequences of `got` `[batch, …]`. */
export function worstSequenceError(
  got: Float32Array,
  refs: readonly Float64Array[],
  metric: (got: Float32Array, ref: Float64Array) => number,
): number {
  let worst = 0;
  refs.forEach((ref, s) => {
    worst = Math.max(worst, metric(got.subarray(s * ref.length, (s + 1) * ref.length), ref));
  });
  return worst;
}
