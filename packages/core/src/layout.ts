import { InvalidArgumentError } from './errors.js';

/**
 * The shape of a model's KV cache. One layer's keys (or values) for `t` tokens are a tensor
 * `[t, kvHeads, headDim]`; `queryHeads` is a multiple of `kvHeads` (GQA).
 */
export interface KVLayout {
  readonly layers: number;
  readonly queryHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/** Throws {@link InvalidArgumentError} unless `layout` is a valid layout. */
export function validateLayout(layout: KVLayout): KVLayout {
  const { layers, queryHeads, kvHeads, headDim } = layout;
  for (const [k, v] of Object.entries({ layers, queryHeads, kvHeads, headDim })) {
    if (!Number.isInteger(v) || v <= 0)
      throw new InvalidArgumentError(`layout.${k} must be a positive integer, got ${v}`);
  }
  if (queryHeads % kvHeads !== 0) {
    throw new InvalidArgumentError(
      `layout.queryHeads (${queryHeads}) must be a multiple of kvHeads (${kvHeads})`,
    );
  }
  return layout;
}

/** Values per token per layer for keys (or values): `kvHeads × headDim`. */
export function channels(layout: KVLayout): number {
  return layout.kvHeads * layout.headDim;
}

/** True when two layouts are the same. */
export function sameLayout(a: KVLayout, b: KVLayout): boolean {
  return (
    a.layers === b.layers &&
    a.queryHeads === b.queryHeads &&
    a.kvHeads === b.kvHeads &&
    a.headDim === b.headDim
  );
}
