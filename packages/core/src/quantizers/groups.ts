/**
 * Group geometry of the per-group quantizers (uniform, codebook) in a block `[T, C]`:
 * - axis `'channel'`: a group is `groupSize` consecutive tokens of one channel; group index
 *   `tg·C + c` with `tg = floor(t / groupSize)` (the last token group may be short);
 * - axis `'token'`: a group is `groupSize` consecutive channels of one token (groupSize divides
 *   C); group index `t·(C / groupSize) + floor(c / groupSize)`.
 */
import { InvalidArgumentError, ShapeError } from '../errors.js';
import type { BlockShape } from './types.js';

/** Grouping options shared by {@link UniformSpec}-like specs. */
export interface Grouping {
  readonly axis: 'channel' | 'token';
  readonly groupSize: number;
}

/** Throws {@link InvalidArgumentError} unless `g` is a valid grouping. */
export function checkGrouping(what: string, g: Grouping): void {
  if (g.axis !== 'channel' && g.axis !== 'token') {
    throw new InvalidArgumentError(`${what}: axis must be 'channel' or 'token', got ${String(g.axis)}`);
  }
  if (!Number.isInteger(g.groupSize) || g.groupSize < 1 || g.groupSize > 65536) {
    throw new InvalidArgumentError(`${what}: groupSize must be an integer in 1..65536, got ${g.groupSize}`);
  }
}

/** Number of groups of a block; throws {@link ShapeError} when a token-axis group does not divide C. */
export function groupCount(what: string, g: Grouping, shape: BlockShape): number {
  const C = shape.kvHeads * shape.headDim;
  if (g.axis === 'channel') return Math.ceil(shape.tokens / g.groupSize) * C;
  if (C % g.groupSize !== 0) {
    throw new ShapeError(
      `${what}: channels (kvHeads × headDim) must be a multiple of groupSize ${g.groupSize}`,
      [`k·${g.groupSize}`],
      [C],
    );
  }
  return shape.tokens * (C / g.groupSize);
}
