import { readFileSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorruptFileError, InvalidArgumentError, ShapeError, crc32 } from '@kvq/core';
import { modelsDir } from '@kvq/decoder/node';
import { type Llama, type LlamaModel, getLlama } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chooseKvCacheTypes,
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
async function savedState(name: string, flashAttention?: boolean) {
  const context = await model.createContext({
    contextSize: 256,
    sequences: 1,
    threads: 1,
    ...(flashAttention === undefined ? {} : { flashAttention }),
  });
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
    expect(() => decompressState(packed.subarray(0, packed.length - 100), { model: m })).toThrow(
      CorruptFileError,
    );
    // a checksummed header that is not a state header
    const json = new TextEncoder().encode(
      JSON.stringify({ format: 'kvq-llama-state', tokens: [], positions: [] }),
    );
    const forged = new Uint8Array(16 + json.length);
    forged.set(packed.subarray(0, 8));
    new DataView(forged.buffer).setUint32(8, json.length, true);
    forged.set(json, 12);
    new DataView(forged.buffer).setUint32(
      12 + json.length,
      crc32(forged.subarray(0, 12 + json.length)),
      true,
    );
    expect(() => decompressState(forged, { model: m })).toThrow(/not a kvq llama.cpp state header/);
    writeFileSync(join(dir, 'junk.kvq'), 'junk');
    await expect(loadCompressedState({} as never, join(dir, 'junk.kvq'), { model: m })).rejects.toThrow(
      CorruptFileError,
    );
  });
  it('a stories260K state is refused for kvq-ref-35M (raw state and .kvq), with a ShapeError', async () => {
    const m = await kvModelFromGguf(GGUF);
    const tiny = await kvModelFromGguf(TINY);
    const tinyModel = await llama.loadModel({ modelPath: TINY });
    const c = await tinyModel.createContext({ contextSize: 64, sequences: 1, threads: 1 });
    const seq = c.getSequence();
    await seq.evaluateWithoutGeneratingNewTokens(tinyModel.tokenize('Once upon a time there was') as never);
    const path = join(dir, 'tiny.bin');
    await seq.saveStateToFile(path);
    await c.dispose();
    await tinyModel.dispose();
    const raw = new Uint8Array(readFileSync(path));
    expect(() => parseSequenceState(raw, m.layout.layers)).toThrow(ShapeError);
    expect(() => compressState(raw, { model: m, preset: 'fp16' })).toThrow(/another model/);
    expect(() => compressState(raw, { model: m, preset: 'fp16' })).toThrow(ShapeError);
    const packed = compressState(raw, { model: tiny, preset: 'fp16' });
    expect(() => decompressState(packed, { model: m })).toThrow(ShapeError);
    // and the right model gets its exact state back
    const exact = compressState(raw, { model: tiny, preset: 'fp16', keys: 'post-rope' });
    expect(decompressState(exact, { model: tiny })).toEqual(raw);
  });
});

describe('flash attention off: V stored transposed', () => {
  it('the state is parsed as transposed, rewritten byte for byte, and fp16 post-RoPE restores it exactly', async () => {
    const m = await kvModelFromGguf(GGUF);
    const { context, path } = await savedState('t.bin', false);
    const raw = new Uint8Array(readFileSync(path));
    await context.dispose();
    const s = parseSequenceState(raw, 12);
    expect(s.vTrans).toBe(true);
    expect(s.layers[0]).toMatchObject({ valueUnitBytes: 2, valueWidth: 128 });
    expect(writeSequenceState(s)).toEqual(raw);
    const packed = compressState(raw, { model: m, preset: 'fp16', keys: 'post-rope' });
    expect(decompressState(packed, { model: m })).toEqual(raw);
    // the other layout carries the same values, transposed
    const flat = parseSequenceState(decompressState(packed, { model: m, vTrans: false }), 12);
    expect(flat.vTrans).toBe(false);
    const cells = s.positions.length;
    const tv = new Uint16Array(s.layers[3]!.values.slice().buffer);
    const fv = new Uint16Array(flat.layers[3]!.values.slice().buffer);
    for (const [i, j] of [
      [0, 0],
      [cells - 1, 127],
      [5, 64],
    ] as const)
      expect(fv[i * 128 + j]).toBe(tv[j * cells + i]);
  });
  it('fp16 (pre-RoPE): greedy tokens after restore equal those from the saved state', async () => {
    const m = await kvModelFromGguf(GGUF);
    const a = await savedState('u.bin', false);
    const want = await greedy(a.sequence as never, 16);
    await a.context.dispose();
    const b = await savedState('u2.bin', false);
    const kvqPath = join(dir, 'u.kvq');
    await saveCompressedState(b.sequence, kvqPath, { model: m, preset: 'fp16' });
    await b.context.dispose();
    const c = await model.createContext({
      contextSize: 256,
      sequences: 1,
      threads: 1,
      flashAttention: false,
    });
    const seq = c.getSequence();
    await loadCompressedState(seq, kvqPath, { model: m });
    expect(await greedy(seq as never, 16)).toEqual(want);
    await c.dispose();
  });
  it('a .kvq state moves between contexts with and without flash attention (llama.cpp files do not)', async () => {
    const m = await kvModelFromGguf(GGUF);
    const want = async (flashAttention: boolean) => {
      const a = await savedState('w.bin', flashAttention);
      const g = await greedy(a.sequence as never, 12);
      await a.context.dispose();
      return g;
    };
    const [wantOff, wantOn] = [await want(false), await want(true)];
    for (const [from, to] of [
      [true, false],
      [false, 'auto'],
    ] as const) {
      const b = await savedState('x.bin', from);
      const kvqPath = join(dir, 'x.kvq');
      await saveCompressedState(b.sequence, kvqPath, { model: m, preset: 'fp16' });
      await b.context.dispose();
      const c = await model.createContext({ contextSize: 256, sequences: 1, threads: 1, flashAttention: to });
      const seq = c.getSequence();
      // llama.cpp's own file is refused across layouts ("incompatible V transposition")
      await expect(seq.loadStateFromFile(b.path, { acceptRisk: true })).rejects.toThrow();
      await loadCompressedState(seq, kvqPath, { model: m });
      expect(seq.contextTokens).toEqual(prompt.slice(0, -1));
      expect(await greedy(seq as never, 12)).toEqual(to === false ? wantOff : wantOn);
      await c.dispose();
    }
  });
});

describe('cache types chosen from a budget', () => {
  it('node-llama-cpp applies the chosen types; llama.cpp refuses a quantized V without flash attention', async () => {
    const m = await kvModelFromGguf(GGUF);
    const choice = chooseKvCacheTypes({ budgetBytes: 256 * 2800, contextTokens: 256, layout: m.layout });
    expect([choice.keyType, choice.valueType]).toEqual(['q8_0', 'q5_1']);
    const c = await model.createContext({
      contextSize: 256,
      sequences: 1,
      threads: 1,
      ...choice.contextOptions,
    });
    expect([c.kvCacheKeyType, c.kvCacheValueType]).toEqual([8, 7]);
    await c.dispose();
    await expect(
      model.createContext({
        contextSize: 256,
        sequences: 1,
        threads: 1,
        ...choice.contextOptions,
        flashAttention: false,
      }),
    ).rejects.toThrow();
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
