/** Row-wise log-softmax of `logits[rows, vocab]` in float64, written as float32 into `out`. */
export function logSoftmaxRows(
  logits: Float32Array,
  rows: number,
  vocab: number,
  out = new Float32Array(rows * vocab),
): Float32Array {
  for (let r = 0; r < rows; r++) {
    const o = r * vocab;
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < vocab; j++) if (logits[o + j]! > max) max = logits[o + j]!;
    let sum = 0;
    for (let j = 0; j < vocab; j++) sum += Math.exp(logits[o + j]! - max);
    const lse = max + Math.log(sum);
    for (let j = 0; j < vocab; j++) out[o + j] = logits[o + j]! - lse;
  }
  return out;
}
