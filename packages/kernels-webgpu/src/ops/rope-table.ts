/** cos/sin tables for RoPE, computed in fp64 on the host (exact for large positions). */
import type { RopeConfig } from '@kvq/core';
import { InvalidArgumentError } from '@kvq/core';

/**
 * `[positions.length, dims/2]` pairs (cos, sin) of `pos / scale · theta^(−2i/dims)`.
 * @throws {@link InvalidArgumentError} for odd `dims` or `dims > headDim`.
 */
export function ropeTable(positions: ArrayLike<number>, cfg: RopeConfig, headDim: number): Float32Array {
  const { dims, theta } = cfg;
  if (!Number.isInteger(dims) || dims <= 0 || dims % 2 !== 0 || dims > headDim) {
    throw new InvalidArgumentError(`rope.dims must be an even integer in 2..${headDim}, got ${dims}`);
  }
  if (!(theta > 0)) throw new InvalidArgumentError(`rope.theta must be > 0, got ${theta}`);
  const scale = cfg.scale ?? 1;
  const half = dims / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = theta ** ((-2 * i) / dims);
  const out = new Float32Array(positions.length * half * 2);
  for (let t = 0; t < positions.length; t++) {
    const pos = positions[t]! / scale;
    for (let i = 0; i < half; i++) {
      const a = pos * inv[i]!;
      out[(t * half + i) * 2] = Math.cos(a);
      out[(t * half + i) * 2 + 1] = Math.sin(a);
    }
  }
  return out;
}
