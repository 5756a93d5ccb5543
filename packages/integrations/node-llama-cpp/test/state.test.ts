import { readFileSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorruptFileError, InvalidArgumentError, ShapeError } from '@kvq/core';
import { modelsDir } from '@kvq/decoder/node';
import { type Llama, type LlamaModel, getLlama } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compressState,
  decompressState,
  kvModelFromGguf,
  loadCompressedState,
  lookupStatePrefix,
  parseSequenceState,
  readCompressedStateHeader,
  saveCompressedState,
  storeStatePrefix,
  writeSequenceState,
} from '../src/index.js';

const GGUF = join(modelsDir(), 'kvq-ref-35M', 'model-f16.gguf');
const TINY = join(modelsDir(), 'stories260K.gguf');
const dir = mkdtempSync(join(tmpdir(), 'kvq-llama-'));
let llama: Llama;
let model: LlamaModel;
let prompt: number[];

beforeAll(async () => {
  llama = await getLlama({ gpu: false });
  model = await llama.loadModel({ modelPath: GGUF });
  prompt = model.tokenize(
    'The history of the city begins in the year 1200, when a small group of traders settled on the river bank and built',
  ) as number[];
});
afterAll(async () => {
  await model?.dispose();
  await llama?.dispose();
});

/** A fresh context with the prompt minus its last token evaluated; its state saved to a file. */
async function savedState(name: string) {
  const context = await model.createContext({ contextSize: 256, sequences: 1, threads: 1 });
  const sequence = context.getSequence();
  await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1) as never);
  const path = join(dir, name);
  await sequence.saveStateToFile(path);
  return { context, sequence, path };
}

async function greedy(sequence: { evaluate(t: never, o: object): AsyncGenerator<number> }, n: number) {
  const out: number[] = [];
  for await (const t of sequence.evaluate([prompt.at(-1)] as never, { temperature: 0 })) {
    out.push(t);
    if (out.length >= n) break;
  }
  return out;
}

describe('llama.cpp sequence-state files', () => {
  it('parse → write reproduces the file byte for byte', async () => {
    const { context, path } = await savedState('a.bin');
    const bytes = new Uint8Array(readFileSync(path));
    const s = parseSequenceState(bytes, 12);
    expect(s.tokens.length).toBe(prompt.length - 1);
    expect(Array.from(s.positions)).toEqual(Array.from({ length: prompt.length - 1 }, (_, i) => i));
    expect(s.layers).toHaveLength(12);
    expect(writeSequenceState(s)).toEqual(bytes);
    await context.dispose();
  });
  it('truncated or foreign files are a CorruptFileError naming the problem', async () => {
    const { context, path } = await savedState('b.bin');
    const bytes = new Uint8Array(readFileSync(path));
    expect(() => parseSequenceState(bytes.subarray(0, bytes.length - 7))).toThrow(/truncated/);
    expect(() => parseSequenceState(new TextEncoder().encode('GGUF and more bytes here'))).toThrow(
      /wrong magic/,
    );
    const bad = bytes.slice();
    bad[4] = 9;
    expect(() => parseSequenceState(bad)).toThrow(/version 9/);
    expect(() => parseSequenceState(bytes, 5)).toThrow(/another model/);
    await context.dispose();
  });
});

describe('compressed context states (.kvq)', () => {
  it('fp16 with post-RoPE keys restores the exact llama.cpp state', async () => {
    const { context, path } = await savedState('c.bin');
    const raw = new Uint8Array(readFileSync(path));
    const m = await kvModelFromGguf(GGUF);
    const packed = compressState(raw, { model: m, preset: 'fp16', keys: 'post-rope' });
    expect(decompressState(packed, { model: m })).toEqual(raw);
    await context.dispose();
  });
  it('fp16 (pre-RoPE): generation after restore matches generation from the saved state', async () => {
    const m = await kvModelFromGguf(GGUF);
    const a = await savedState('d.bin');
    const fromOriginal = await greedy(a.sequence as never, 16);
    await a.context.dispose();
    const b = await savedState('d2.bin');
    const kvqPath = join(dir, 'd.kvq');
    const sizes = await saveCompressedState(b.sequence, kvqPath, { model: m, preset: 'fp16' });
    await b.context.dispose();
    const c = await model.createContext({ contextSize: 256, sequences: 1, threads: 1 });
    const seq = c.getSequence();
    await loadCompressedState(seq, kvqPath, { model: m });
    expect(seq.contextTokens).toEqual(prompt.slice(0, -1));
    expect(await greedy(seq as never, 16)).toEqual(fromOriginal);
    // fp16 keeps 16 bits per value: the .kvq state is about the llama.cpp state's size (header + scales)
    expect(sizes.bytes / sizes.llamaStateBytes).toBeLessThan(1.05);
    await c.dispose();
  });
  it('k4v2: the .kvq state is several times smaller and restores into a working context', async () => {
    const m = await kvModelFromGguf(GGUF);
    const b = await savedState('e.bin');
    const kvqPath = join(dir, 'e.kvq');
    const sizes = await saveCompressedState(b.sequence, kvqPath, { model: m, preset: 'k4v2' });
    await b.context.dispose();
    expect(sizes.llamaStateBytes / sizes.bytes).toBeGreaterThan(2.5);
    const c = await model.createContext({ contextSize: 256, sequences: 1, threads: 1 });
    const seq = c.getSequence();
    await loadCompressedState(seq, kvqPath, { model: m });
    expect((await greedy(seq as never, 4)).length).toBe(4);
    await c.dispose();
  });
  it('bad input: a state of another model, a corrupt or truncated .kvq, an unsupported cache type', async () => {
    const m = await kvModelFromGguf(GGUF);
    const tiny = await kvModelFromGguf(TINY);
    const { context, path } = await savedState('f.bin');
    const raw = new Uint8Array(readFileSync(path));
    await context.dispose();
    expect(() => compressState(raw, { model: tiny, preset: 'fp16' })).toThrow(/another model/);
    const packed = compressState(raw, { model: m, preset: 'kivi-4' });
    expect(readCompressedStateHeader(packed)).toMatchObject({ preset: 'kivi-4', keys: 'pre-rope' });
    expect(() => decompressState(packed, { model: tiny })).toThrow(ShapeError);
    expect(() => decompressState(packed, { model: { ...m, name: 'other' } })).toThrow(InvalidArgumentError);
    const hdr = packed.slice();
    hdr[20]! ^= 0xff;
    expect(() => decompressState(hdr, { model: m })).toThrow(CorruptFileError);
    const body = packed.slice();
    body[body.length - 11]! ^= 0xff;
    expect(() => decompressState(body, { model: m })).toThrow(CorruptFileError);
    expect(() => decompressState(packed.subarray(0, 10), { model: m })).toThrow(/truncated/);
    const q8 = parseSequenceState(raw);
    const asQ8 = writeSequenceState({ ...q8, layers: q8.layers.map((l) => ({ ...l, keyType: 8 })) });
    expect(() => compressState(asQ8, { model: m })).toThrow(/not supported/);
    writeFileSync(join(dir, 'junk.kvq'), 'junk');
  });
});

describe('@kvq/store prefix caches with llama.cpp states', () => {
  it('a second context restores the stored prefix and continues exactly as without it (fp16)', async () => {
    const { DiskDirStore, PrefixCache } = await import('@kvq/store');
    const m = await kvModelFromGguf(GGUF);
    const store = new DiskDirStore({ dir: join(dir, 'prefix'), maxBytes: 1e8 });
    const prefix = new PrefixCache({
      store,
      identity: { model: m.name, preset: 'fp16' },
      layout: m.layout,
      chunkTokens: 8,
    });
    const opts = { contextSize: 256, sequences: 1, threads: 1 } as const;
    // context 1: evaluate the prompt but its last token, store it, continue
    const c1 = await model.createContext(opts);
    const s1 = c1.getSequence();
    await s1.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1) as never);
    const format = await storeStatePrefix(prefix, s1, { model: m, preset: 'fp16' });
    const want = await greedy(s1 as never, 12);
    await c1.dispose();
    // context 2: restore the longest stored prefix, evaluate the rest, continue
    const c2 = await model.createContext(opts);
    const s2 = c2.getSequence();
    const restored = await lookupStatePrefix(prefix, prompt, s2, { model: m, format });
    expect(restored).toBe(Math.floor((prompt.length - 1) / 8) * 8);
    await s2.evaluateWithoutGeneratingNewTokens(prompt.slice(restored, -1) as never);
    expect(await greedy(s2 as never, 12)).toEqual(want);
    await c2.dispose();
  });
});
