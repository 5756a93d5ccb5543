import { InvalidArgumentError } from '@kvq/core';
import { splitSpecial } from './special-split.js';
import { type DecodeOptions, type EncodeOptions, TOKEN_TYPE, type Tokenizer } from './types.js';

/**
 * Pre-tokenizer regexes by GGUF `tokenizer.ggml.pre` name (llama.cpp's names). JavaScript has
 * no inline `(?i:…)`, so the contractions are spelled with character classes.
 */
export const PRE_TOKENIZER_REGEX: Readonly<Record<string, RegExp>> = {
  'gpt-2': /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu,
  default: /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu,
  'llama-bpe':
    /'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu,
  qwen2:
    /'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu,
};

/** GPT-2's reversible map of the 256 byte values to printable characters. */
function bytesToUnicode(): string[] {
  const table: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
  return table;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

/** Inputs of {@link ByteLevelBpeTokenizer}. */
export interface ByteLevelBpeVocab {
  /** token strings in GPT-2 byte-level form (`Ġ` = space) */
  readonly tokens: readonly string[];
  /** merges `"left right"`, highest priority first */
  readonly merges: readonly string[];
  /** ggml token types; control tokens are treated as special */
  readonly tokenTypes?: readonly number[];
  /** GGUF `tokenizer.ggml.pre` (default 'gpt-2') */
  readonly pre?: string;
  readonly bos?: number;
  readonly eos?: number;
}

/**
 * GPT-2-style byte-level BPE (as HF `tokenizers` ByteLevel + BPE, and llama.cpp's gpt2 vocab):
 * regex pre-tokenization, bytes mapped to printable characters, merges applied by rank.
 */
export class ByteLevelBpeTokenizer implements Tokenizer {
  readonly kind = 'gpt2' as const;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly #tokens: readonly string[];
  readonly #ids = new Map<string, number>();
  readonly #ranks = new Map<string, number>();
  readonly #byteChar = bytesToUnicode();
  readonly #charByte = new Map<string, number>();
  readonly #regex: RegExp;
  readonly #specials = new Map<string, number>();
  readonly #control = new Set<number>();
  readonly #wordCache = new Map<string, number[]>();

  constructor(vocab: ByteLevelBpeVocab) {
    const pre = vocab.pre ?? 'gpt-2';
    const regex = PRE_TOKENIZER_REGEX[pre];
    if (!regex) {
      throw new InvalidArgumentError(
        `tokenizer: pre-tokenizer "${pre}" is not supported (supported: ${Object.keys(PRE_TOKENIZER_REGEX).join(', ')})`,
      );
    }
    this.#regex = regex;
    this.#tokens = vocab.tokens;
    vocab.tokens.forEach((t, i) => {
      if (!this.#ids.has(t)) this.#ids.set(t, i);
    });
    vocab.merges.forEach((m, i) => this.#ranks.set(m, i));
    this.#byteChar.forEach((c, b) => this.#charByte.set(c, b));
    vocab.tokenTypes?.forEach((type, i) => {
      if (type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.USER_DEFINED)
        this.#specials.set(vocab.tokens[i]!, i);
      if (type === TOKEN_TYPE.CONTROL) this.#control.add(i);
    });
    this.bos = vocab.bos;
    this.eos = vocab.eos;
  }

  get vocabSize(): number {
    return this.#tokens.length;
  }

  tokenString(id: number): string {
    const t = this.#tokens[id];
    if (t === undefined)
      throw new InvalidArgumentError(
        `token id ${id} is outside the vocabulary (0..${this.#tokens.length - 1})`,
      );
    return t;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (opts.addBos) {
      if (this.bos === undefined)
        throw new InvalidArgumentError('tokenizer: addBos requested but the vocabulary has no BOS token');
      out.push(this.bos);
    }
    const pieces = opts.parseSpecial ? splitSpecial(text, this.#specials) : [{ text }];
    for (const piece of pieces) {
      if ('special' in piece) {
        out.push(piece.special);
        continue;
      }
      for (const m of piece.text.matchAll(this.#regex)) {
        for (const id of this.#word(m[0])) out.push(id);
      }
    }
    return out;
  }

  #word(word: string): number[] {
    const cached = this.#wordCache.get(word);
    if (cached) return cached;
    let symbols = Array.from(encoder.encode(word), (b) => this.#byteChar[b]!);
    while (symbols.length > 1) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const r = this.#ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const a = symbols[best]!;
      const b = symbols[best + 1]!;
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
          merged.push(a + b);
          i++;
        } else merged.push(symbols[i]!);
      }
      symbols = merged;
    }
    const ids = symbols.map((s) => {
      const id = this.#ids.get(s);
      if (id === undefined)
        throw new InvalidArgumentError(`tokenizer: piece "${s}" of "${word}" is not in the vocabulary`);
      return id;
    });
    if (this.#wordCache.size < 200_000) this.#wordCache.set(word, ids);
    return ids;
  }

  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecial ?? true;
    const bytes: number[] = [];
    let out = '';
    const flush = () => {
      out += decoder.decode(new Uint8Array(bytes));
      bytes.length = 0;
    };
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k]!;
      const t = this.tokenString(id);
      if (this.#specials.has(t) && this.#specials.get(t) === id) {
        if (skip && this.#control.has(id)) continue;
        flush();
        out += t;
        continue;
      }
      for (const ch of t) {
        const b = this.#charByte.get(ch);
        if (b === undefined) {
          flush();
          out += ch;
        } else bytes.push(b);
      }
    }
    flush();
    return out;
  }
}
