/** SwiGLU: y = silu(gate) ⊙ up, silu(g) = g / (1 + exp(−g)). One thread per value. */
import { ELEMENTWISE_WG, elementwiseMain } from './common.wgsl.js';

/** Params: n. Bindings: 1 = gate, 2 = up, 3 = y. */
export function swigluWgsl(): string {
  return `struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${elementwiseMain(
  ELEMENTWISE_WG,
  `  if (i >= p.n) { return; }
  let g = gate[i];
  y[i] = g / (1.0 + exp(-g)) * up[i];`,
)}`;
}
