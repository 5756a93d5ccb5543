/** silu(gate) ⊙ up, elementwise. */
export function swiglu(
  gate: Float32Array,
  up: Float32Array,
  out: Float32Array = new Float32Array(gate.length),
): Float32Array {
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i]!;
    out[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
  return out;
}
