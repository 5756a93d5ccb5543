import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { GgufFile, type Tokenizer, readGgufHeader, tokenizerFromGguf } from '../src/index.js';
import { DATA, MODELS, REF_DIR, REF_F16, REF_FIXTURES, STORIES, STORIES_REF_IDS } from './helpers/paths.js';

interface Fixtures {
  prompts: { text: string; input_ids: number[]; greedy_ids: number[]; greedy_text: string }[];
  wikitext: { first_windows_ids: number[][]; first_windows_text: string; n_tokens: number };
}
const fixtures = JSON.parse(readFileSync(REF_FIXTURES, 'utf8')) as Fixtures;

function hf(dir: string): HfTokenizer {
  const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
  return new HfTokenizer(json, config);
}

function gguf(path: string): Tokenizer {
  // only the header is needed
  return tokenizerFromGguf(readGgufHeader(readFileSync(path)).metadata);
}

describe('GPT-2 byte-level BPE (kvq-ref-35M)', () => {
  const tok = gguf(REF_F16);

  it('matches the fixture prompts (with BOS) and decodes the greedy texts', () => {
    expect(tok.kind).toBe('gpt2');
    for (const p of fixtures.prompts) {
      expect(tok.encode(p.text, { addBos: true })).toEqual(p.input_ids);
      expect(tok.decode(p.greedy_ids)).toBe(p.greedy_text);
    }
  });

  it('reproduces the first 4 WikiText-2 windows (4,096 ids) and the whole file has 317,898 tokens', () => {
    const wiki = readFileSync(join(DATA, 'wiki.test.raw'), 'utf8');
    const ids = tok.encode(wiki);
    expect(ids.length).toBe(fixtures.wikitext.n_tokens);
    const expected = fixtures.wikitext.first_windows_ids.flat();
    expect(ids.slice(0, expected.length)).toEqual(expected);
    expect(tok.decode(expected)).toBe(fixtures.wikitext.first_windows_text);
    expect(tok.decode(ids)).toBe(wiki);
  });

  it('agrees with tokenizers.js on the ONNX tokenizer.json (War and Peace sample, unicode)', () => {
    const ref = hf(join(REF_DIR, 'onnx'));
    const text = readFileSync(join(DATA, 'war_and_peace.gutenberg2600.txt'), 'utf8').slice(100_000, 130_000);
    const samples = [text, 'héllo wörld — “quotes” 世界 ☃ 🙂\n\n\t  x  ', "it's we'll I'D 12345 3.14"];
    for (const s of samples) {
      expect(tok.encode(s)).toEqual(ref.encode(s, { add_special_tokens: false }).ids);
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it('treats <|endoftext|> as text unless parseSpecial is set; skips it when decoding', () => {
    const s = 'a<|endoftext|>b';
    expect(tok.encode(s, { parseSpecial: true })).toEqual([...tok.encode('a'), 0, ...tok.encode('b')]);
    expect(tok.encode(s)).not.toContain(0);
    expect(tok.decode([0, ...tok.encode('hi')])).toBe('hi');
    expect(tok.decode([0], { skipSpecial: false })).toBe('<|endoftext|>');
  });
});

describe('SentencePiece BPE with byte fallback (stories260K)', () => {
  const tok = gguf(STORIES);
  const refIds = JSON.parse(readFileSync(STORIES_REF_IDS, 'utf8')) as number[];

  it('encodes the reference prompt and decodes the reference greedy ids to the published sample', () => {
    expect(tok.kind).toBe('llama');
    const prompt = tok.encode('Once upon a time', { addBos: true });
    expect(refIds.slice(0, prompt.length)).toEqual(prompt);
    expect(tok.decode(refIds)).toMatch(
      /^Once upon a time, there was a little girl named Lily\. She loved to play outside in the park\. One day, she saw a big, red ball\./,
    );
  });

  it('agrees with tokenizers.js on the converted tokenizer.json and round-trips text', () => {
    const ref = hf(join(MODELS, 'stories260K-onnx'));
    const stories = readFileSync(join(DATA, 'tinystories_sample_30k.txt'), 'utf8');
    const wiki = readFileSync(join(DATA, 'wiki.test.raw'), 'utf8').slice(0, 5000);
    for (const s of [stories.slice(0, 8000), wiki, 'Ünïcödé 世界 ☃ tabs\tand\nnewlines  two spaces']) {
      expect(tok.encode(s)).toEqual(ref.encode(s, { add_special_tokens: false }).ids);
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it('falls back to byte tokens for characters without a piece', () => {
    const ids = tok.encode('☃');
    // ▁ then the 3 UTF-8 bytes of U+2603 as <0xE2> <0x98> <0x83>
    expect(ids.slice(-3).map((i) => tok.tokenString(i))).toEqual(['<0xE2>', '<0x98>', '<0x83>']);
  });
});

describe('tokenizer errors', () => {
  it('names an unsupported tokenizer model', () => {
    const file = GgufFile.parse(readFileSync(STORIES));
    const meta = new Map(file.metadata);
    meta.set('tokenizer.ggml.model', 'bert');
    expect(() => tokenizerFromGguf(meta, 'm.gguf')).toThrow(
      /m\.gguf: tokenizer\.ggml\.model "bert" is not supported/,
    );
  });
});
