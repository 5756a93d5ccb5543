import type { DecodeArgs } from './native.js';
import type { DecodeAttentionArgs } from './paged.js';

/**
 * The {@link DecodeArgs} of a call. Internal to the package (not exported from its index).
 */
export function decodeArgs(a: Omit<DecodeAttentionArgs, 'kernel'>): DecodeArgs {
  const l = a.pool.layout;
  return [
    a.query.ptr,
    a.pool.buffer.ptr,
    a.pageTable.ptr,
    a.lengths.ptr,
    a.out.ptr,
    a.partial.ptr,
    a.batch,
    a.queryHeads,
    l.kvHeads,
    a.maxPages,
    l.pageTokens,
    a.splitPages,
    a.scale ?? 1 / Math.sqrt(128),
  ];
}
