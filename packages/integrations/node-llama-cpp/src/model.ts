import { open } from 'node:fs/promises';
import { CorruptFileError } from '@kvq/core';
import { readGgufHeader, readLlamaConfig } from '@kvq/decoder';
import type { LlamaKvModel } from './compressed-state.js';

/**
 * Reads a GGUF's header (only as many bytes as it needs) and returns the KV facts a compressed state
 * depends on: name, architecture, layout, and the RoPE llama.cpp applies to cached keys.
 */
export async function kvModelFromGguf(path: string): Promise<LlamaKvModel> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    for (let n = Math.min(size, 1 << 22); ; n = Math.min(size, n * 4)) {
      const buf = new Uint8Array(n);
      await fh.read(buf, 0, n, 0);
      try {
        const header = readGgufHeader(buf, path);
        const c = readLlamaConfig(header.metadata, path);
        return {
          name: c.name,
          architecture: c.architecture,
          layout: { layers: c.layers, queryHeads: c.queryHeads, kvHeads: c.kvHeads, headDim: c.headDim },
          rope: c.rope,
        };
      } catch (err) {
        if (
          !(err instanceof CorruptFileError) ||
          n >= size ||
          !/truncated|past the end|needs/i.test(err.message)
        )
          throw err;
      }
    }
  } finally {
    await fh.close();
  }
}
