import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@kvq/core';
import { writeFileAtomic } from '@kvq/core/node';
import {
  type CompressStateOptions,
  type LlamaKvModel,
  compressState,
  decompressState,
  readCompressedStateHeader,
} from './compressed-state.js';

/** The node-llama-cpp sequence methods used here (a `LlamaContextSequence`). */
export interface StatefulSequence {
  saveStateToFile(path: string): Promise<unknown>;
  loadStateFromFile(path: string, acceptRisk: { acceptRisk: true }): Promise<void>;
  /** node-llama-cpp's context: its `flashAttention` (when a boolean) gives the V layout to write */
  readonly context?: { readonly flashAttention?: boolean | string };
}

const tmp = () => join(tmpdir(), `kvq-llama-state-${randomUUID()}.bin`);

/**
 * Saves `sequence`'s state through node-llama-cpp, compresses it with a kvq preset and writes the
 * `.kvq` state to `path` (atomically). Returns its size and the llama.cpp state's.
 */
export async function saveCompressedState(
  sequence: StatefulSequence,
  path: string,
  options: CompressStateOptions,
): Promise<{ bytes: number; llamaStateBytes: number }> {
  const t = tmp();
  try {
    await sequence.saveStateToFile(t);
    const raw = new Uint8Array(await readFile(t));
    const packed = compressState(raw, options);
    await writeFileAtomic(path, packed);
    return { bytes: packed.length, llamaStateBytes: raw.length };
  } finally {
    await rm(t, { force: true });
  }
}

/**
 * Restores a `.kvq` state into `sequence`, in a context of the same model and cache types. The V
 * layout is written for the target context — llama.cpp stores V transposed without flash attention
 * and refuses a state of the other layout — so a state saved with flash attention loads into a
 * context without it and back: from the context's `flashAttention` when it is a boolean; when it is
 * `'auto'`, the saved layout is tried first and, if llama.cpp refuses it, the other one.
 * The tokens of the state come back with it. Errors: see {@link decompressState}; a state llama.cpp
 * refuses in both layouts is an `InvalidArgumentError` carrying node-llama-cpp's error as `cause`.
 */
export async function loadCompressedState(
  sequence: StatefulSequence,
  path: string,
  options: { model: LlamaKvModel; adapters?: CompressStateOptions['adapters'] },
): Promise<void> {
  const bytes = new Uint8Array(await readFile(path));
  const header = readCompressedStateHeader(bytes);
  const saved = header.vTrans;
  const fa = sequence.context?.flashAttention;
  const first = typeof fa === 'boolean' ? !fa : saved;
  const t = tmp();
  try {
    let firstError: unknown;
    for (const vTrans of typeof fa === 'boolean' ? [first] : [first, !first]) {
      await writeFileAtomic(t, decompressState(bytes, { ...options, vTrans }));
      try {
        await sequence.loadStateFromFile(t, { acceptRisk: true });
        return;
      } catch (err) {
        firstError ??= err;
      }
    }
    const e = new InvalidArgumentError(
      `llama.cpp refused the state restored from ${path} (saved with ${saved ? 'V transposed: flash attention off' : 'flash attention on'}; is the context of the same model and cache types, and large enough for ${header.tokens.length} tokens?): ${String((firstError as Error)?.message ?? firstError)}`,
    );
    (e as { cause?: unknown }).cause = firstError;
    throw e;
  } finally {
    await rm(t, { force: true });
  }
}
