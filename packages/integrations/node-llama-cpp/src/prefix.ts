import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompressedKVCache } from '@kvq/core';
import { writeFileAtomic } from '@kvq/core/node';
import {
  type CompressStateOptions,
  type LlamaKvModel,
  type StateFormat,
  cacheFromState,
  stateFromCache,
} from './compressed-state.js';
import type { StatefulSequence } from './sequence-state.js';

/** The part of @kvq/store's `PrefixCache` used here (structural: no dependency on @kvq/store). */
export interface PrefixCacheLike {
  lookup(tokens: ArrayLike<number>): Promise<{ tokens: number; cache: CompressedKVCache | undefined }>;
  store(tokens: ArrayLike<number>, cache: CompressedKVCache): Promise<unknown>;
}

const tmp = () => join(tmpdir(), `kvq-llama-prefix-${randomUUID()}.bin`);

/**
 * Stores the sequence's evaluated tokens as prefix chunks (compressed with the prefix cache's
 * preset). Returns the state format of this context, which {@link lookupStatePrefix} needs to
 * rebuild states for contexts created with the same options.
 */
export async function storeStatePrefix(
  prefix: PrefixCacheLike,
  sequence: StatefulSequence,
  options: CompressStateOptions,
): Promise<StateFormat> {
  const t = tmp();
  try {
    await sequence.saveStateToFile(t);
    const { cache, tokens, format } = cacheFromState(new Uint8Array(await readFile(t)), options);
    try {
      await prefix.store(tokens, cache);
    } finally {
      cache.dispose();
    }
    return format;
  } finally {
    await rm(t, { force: true });
  }
}

/**
 * Looks up the longest stored prefix of `tokens` (all but the last, so that evaluation has a token
 * to run) and loads it into `sequence` (empty, in a context with the options `format` came from).
 * Returns how many tokens were restored; evaluate `tokens.slice(restored)` next. A miss restores 0.
 */
export async function lookupStatePrefix(
  prefix: PrefixCacheLike,
  tokens: readonly number[],
  sequence: StatefulSequence,
  options: { model: LlamaKvModel; format: StateFormat },
): Promise<number> {
  const hit = await prefix.lookup(tokens.slice(0, Math.max(0, tokens.length - 1)));
  if (!hit.cache || hit.tokens === 0) return 0;
  const t = tmp();
  try {
    const state = stateFromCache(hit.cache, tokens.slice(0, hit.tokens), {
      model: options.model,
      format: options.format,
    });
    await writeFileAtomic(t, state);
    await sequence.loadStateFromFile(t, { acceptRisk: true });
    return hit.tokens;
  } finally {
    hit.cache.dispose();
    await rm(t, { force: true });
  }
}
