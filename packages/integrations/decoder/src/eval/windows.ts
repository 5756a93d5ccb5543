import { InvalidArgumentError } from '@kvq/core';

/**
 * Cuts `tokens` into consecutive non-overlapping windows of `ctx` tokens (the last one may be
 * shorter; windows of fewer than 2 tokens predict nothing and are dropped). `limit` keeps the
 * first `limit` windows.
 */
export function nonOverlappingWindows(tokens: ArrayLike<number>, ctx: number, limit?: number): number[][] {
  if (!Number.isInteger(ctx) || ctx < 2)
    throw new InvalidArgumentError(`ctx must be an integer ≥ 2, got ${ctx}`);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new InvalidArgumentError(`windows must be a positive integer, got ${limit}`);
  }
  const out: number[][] = [];
  for (let s = 0; s + 1 < tokens.length; s += ctx) {
    if (limit !== undefined && out.length >= limit) break;
    out.push(Array.from({ length: Math.min(ctx, tokens.length - s) }, (_, i) => tokens[s + i]!));
  }
  return out;
}
