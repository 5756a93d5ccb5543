/** A vec4<u32> copy kernel: the bandwidth ceiling a compute shader reaches (benchmarks). */
import { ELEMENTWISE_WG, elementwiseMain } from './common.wgsl.js';

/** Params: n (vec4 count). Bindings: 1 = src, 2 = dst. */
export function copyWgsl(): string {
  return `struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<vec4u>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4u>;
${elementwiseMain(ELEMENTWISE_WG, '  if (i < p.n) { dst[i] = src[i]; }')}`;
}
