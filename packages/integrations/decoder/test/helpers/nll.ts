/** Mean next-token NLL of `ids` given logits `[ids.length, vocab]` (row t predicts ids[t+1]), in float64. */
export function meanNll(logits: Float32Array, ids: readonly number[], vocab: number): number {
  let total = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const o = t * vocab;
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < vocab; j++) max = Math.max(max, logits[o + j]!);
    let sum = 0;
    for (let j = 0; j < vocab; j++) sum += Math.exp(logits[o + j]! - max);
    total += Math.log(sum) + max - logits[o + ids[t + 1]!]!;
  }
  return total / (ids.length - 1);
}
