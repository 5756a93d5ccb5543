import { readFileSync } from 'node:fs';
import { gguf } from '@huggingface/gguf';
import { CorruptFileError, UnsupportedVersionError } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import {
  GGML_TYPE,
  GgufFile,
  UnsupportedTensorTypeError,
  readGgufFile,
  readGgufHeader,
} from '../src/index.js';
import { REF_F16, STORIES } from './helpers/paths.js';
import { f32Bytes, writeGguf } from './helpers/write-gguf.js';

describe('GGUF header', () => {
  it.each([STORIES, REF_F16])('matches @huggingface/gguf on %s', async (path) => {
    const bytes = readFileSync(path);
    const mine = readGgufHeader(bytes, path);
    const theirs = await gguf(path, { allowLocalFile: true });
    expect(mine.version).toBe(theirs.metadata.version);
    expect(BigInt(mine.dataOffset)).toBe(theirs.tensorDataOffset);
    expect(mine.tensors.length).toBe(theirs.tensorInfos.length);
    mine.tensors.forEach((t, i) => {
      const o = theirs.tensorInfos[i]!;
      expect(t.name).toBe(o.name);
      expect(t.dims).toEqual(o.shape.map(Number));
      expect(t.type).toBe(o.dtype);
      expect(BigInt(t.offset)).toBe(o.offset);
    });
    const meta = theirs.metadata as unknown as Record<string, unknown>;
    for (const [k, v] of mine.metadata) {
      const o = meta[k];
      if (typeof o === 'bigint') expect(BigInt(v as number)).toBe(o);
      else expect(v).toEqual(o);
    }
    expect(mine.metadata.size).toBe(Number(theirs.metadata.kv_count));
  });

  it('reads the kvq-ref-35M facts from MODEL.md', () => {
    const h = readGgufHeader(readFileSync(REF_F16));
    expect(h.metadata.get('general.name')).toBe('kvq-ref-35M');
    expect(h.metadata.get('llama.attention.head_count_kv')).toBe(2);
    expect(h.metadata.get('llama.context_length')).toBe(1024);
    expect(h.metadata.get('tokenizer.ggml.pre')).toBe('gpt-2');
    expect(h.tensors.length).toBe(110);
  });

  it('rejects a file that is not GGUF', () => {
    expect(() => readGgufHeader(new TextEncoder().encode('PK\u0003\u0004 not a gguf'), 'x.gguf')).toThrow(
      /not a GGUF file/,
    );
  });

  it('rejects an unsupported version', () => {
    const bytes = writeGguf({}, [], 7);
    expect(() => readGgufHeader(bytes, 'v7.gguf')).toThrow(UnsupportedVersionError);
  });

  it('rejects files truncated anywhere in the header or the tensor data', () => {
    const bytes = readFileSync(STORIES);
    const full = GgufFile.parse(bytes, 'stories');
    const cuts = [
      3,
      10,
      30,
      2000,
      full.header.dataOffset - 5,
      full.header.dataOffset + 1000,
      bytes.length - 1,
    ];
    for (const cut of cuts) {
      const err = (() => {
        try {
          GgufFile.parse(bytes.subarray(0, cut), 'cut.gguf');
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err, `cut at ${cut}`).toBeInstanceOf(CorruptFileError);
      expect((err as Error).message).toMatch(/^cut\.gguf: (truncated|not a GGUF)/);
    }
  });

  it('names a missing file and a missing tensor', async () => {
    await expect(readGgufFile('/nonexistent/model.gguf')).rejects.toThrow(
      /cannot read GGUF file \/nonexistent\/model.gguf: no such file/,
    );
    const file = GgufFile.parse(readFileSync(STORIES), 'stories');
    expect(() => file.tensor('blk.99.attn_q.weight')).toThrow(/tensor "blk.99.attn_q.weight" is missing/);
    expect(() => file.tensor('token_embd.weight', [512, 65])).toThrow(
      /has shape \[512, 64\], expected \[512, 65\]/,
    );
  });

  it('reports an unknown tensor type by name', () => {
    const bytes = writeGguf({}, [
      { name: 'a', dims: [32], type: GGML_TYPE.Q4_0, data: new Uint8Array(18) },
      { name: 'b', dims: [2], type: GGML_TYPE.F32, data: f32Bytes([1.5, -2]) },
    ]);
    const file = GgufFile.parse(bytes, 't.gguf');
    expect(Array.from(file.tensor('b').data)).toEqual([1.5, -2]);
    expect(() => file.tensor('a')).toThrow(UnsupportedTensorTypeError);
    expect(() => file.tensor('a')).toThrow(/tensor "a" has ggml type Q4_0/);
  });

  it('rejects a tensor whose data runs past the end of the file', () => {
    const bytes = writeGguf({}, [{ name: 'w', dims: [64], type: GGML_TYPE.F32, data: new Uint8Array(256) }]);
    expect(() => GgufFile.parse(bytes.subarray(0, bytes.length - 4), 'short.gguf')).toThrow(
      /truncated: tensor "w" needs bytes up to/,
    );
  });
});
