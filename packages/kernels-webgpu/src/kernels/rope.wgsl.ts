/**
 * RoPE with a host-computed cos/sin table `[tokens, dims/2]` (computed in fp64 on the host, so
 * large positions keep full accuracy). `interleaved` rotates pairs (2i, 2i+1); `neox` rotates
 * (i, i + dims/2). `inverse` rotates by −θ. One thread per rotated pair.
 */
import { ELEMENTWISE_WG, elementwiseMain } from './common.wgsl.js';

/** Params: tokens, heads, headDim, half (= dims/2), inverse. Bindings: 1 = x (in/out), 2 = table [tokens, half] of (cos, sin). */
export function ropeWgsl(style: 'interleaved' | 'neox'): string {
  const pair =
    style === 'interleaved'
      ? 'let a = base + 2u * r; let b = a + 1u;'
      : 'let a = base + r; let b = a + p.half;';
  return `struct P { tokens: u32, heads: u32, headDim: u32, half: u32, inverse: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> cs: array<vec2f>;
${elementwiseMain(
  ELEMENTWISE_WG,
  `  if (i >= p.tokens * p.heads * p.half) { return; }
  let r = i % p.half; let th = i / p.half; let t = th / p.heads;
  let base = th * p.headDim;
  ${pair}
  let c = cs[t * p.half + r];
  let sn = select(c.y, -c.y, p.inverse != 0u);
  let x0 = x[a]; let x1 = x[b];
  x[a] = x0 * c.x - x1 * sn;
  x[b] = x0 * sn + x1 * c.x;`,
)}`;
}
