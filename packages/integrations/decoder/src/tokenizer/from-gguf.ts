import { CorruptFileError, InvalidArgumentError } from '@kvq/core';
import type { GgufValue } from '../gguf/read-header.js';
import { ByteLevelBpeTokenizer } from './byte-level-bpe.js';
import { SentencePieceBpeTokenizer } from './sentencepiece-bpe.js';
import type { Tokenizer } from './types.js';

/**
 * Builds the tokenizer a GGUF file describes (`tokenizer.ggml.*`): `gpt2` → byte-level BPE,
 * `llama` → SentencePiece BPE with byte fallback.
 */
export function tokenizerFromGguf(metadata: ReadonlyMap<string, GgufValue>, what = 'GGUF file'): Tokenizer {
  const model = metadata.get('tokenizer.ggml.model');
  const strings = (key: string, required: boolean): string[] | undefined => {
    const v = metadata.get(key);
    if (v === undefined && !required) return undefined;
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
      throw new CorruptFileError(
        what,
        `metadata ${key} is ${v === undefined ? 'missing' : 'not a list of strings'}`,
      );
    }
    return v as string[];
  };
  const numbers = (key: string): number[] | undefined => {
    const v = metadata.get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'number'))
      throw new CorruptFileError(what, `metadata ${key} is not a list of numbers`);
    return v as number[];
  };
  const id = (key: string): number | undefined => {
    const v = metadata.get(key);
    return typeof v === 'number' && v >= 0 && v < 0xffffffff ? v : undefined;
  };
  const tokens = strings('tokenizer.ggml.tokens', true)!;
  const tokenTypes = numbers('tokenizer.ggml.token_type');
  const bos = id('tokenizer.ggml.bos_token_id');
  const eos = id('tokenizer.ggml.eos_token_id');
  if (model === 'gpt2') {
    const pre = metadata.get('tokenizer.ggml.pre');
    return new ByteLevelBpeTokenizer({
      tokens,
      merges: strings('tokenizer.ggml.merges', true)!,
      tokenTypes,
      pre: typeof pre === 'string' ? pre : 'gpt-2',
      bos,
      eos,
    });
  }
  if (model === 'llama') {
    const scores = numbers('tokenizer.ggml.scores');
    if (!scores)
      throw new CorruptFileError(
        what,
        'metadata tokenizer.ggml.scores is missing (needed by a llama vocabulary)',
      );
    const asp = metadata.get('tokenizer.ggml.add_space_prefix');
    return new SentencePieceBpeTokenizer({
      tokens,
      scores,
      tokenTypes,
      bos,
      eos,
      unk: id('tokenizer.ggml.unknown_token_id'),
      addSpacePrefix: typeof asp === 'boolean' ? asp : true,
    });
  }
  throw new InvalidArgumentError(
    `${what}: tokenizer.ggml.model "${String(model)}" is not supported (gpt2, llama)`,
  );
}
