import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '@kvq/core/node';
import {
  type CompressStateOptions,
  type LlamaKvModel,
  compressState,
  decompressState,
} from './compressed-state.js';

/** The node-llama-cpp sequence methods used here (a `LlamaContextSequence`). */
export interface StatefulSequence {
  saveStateToFile(path: string): Promise<unknown>;
  loadStateFromFile(path: string, acceptRisk: { acceptRisk: true }): Promise<void>;
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
 * Restores a `.kvq` state into `sequence` (a context created with the same options as the one that
 * saved it). The tokens of the state come back with it.
 */
export async function loadCompressedState(
  sequence: StatefulSequence,
  path: string,
  options: { model: LlamaKvModel; adapters?: CompressStateOptions['adapters'] },
): Promise<void> {
  const state = decompressState(new Uint8Array(await readFile(path)), options);
  const t = tmp();
  try {
    await writeFileAtomic(t, state);
    await sequence.loadStateFromFile(t, { acceptRisk: true });
  } finally {
    await rm(t, { force: true });
  }
}
