/** Options of {@link Tokenizer.encode}. */
export interface EncodeOptions {
  /** prepend the BOS token (default false) */
  readonly addBos?: boolean;
  /**
   * recognise control/special token strings (e.g. `<|endoftext|>`) in the text as single tokens
   * (default false: they are tokenized as plain text, as llama.cpp does without parse_special)
   */
  readonly parseSpecial?: boolean;
}

/** Options of {@link Tokenizer.decode}. */
export interface DecodeOptions {
  /** leave out control tokens (BOS/EOS...) (default true) */
  readonly skipSpecial?: boolean;
}

/** A tokenizer built from a model's vocabulary. */
export interface Tokenizer {
  /** 'gpt2' (byte-level BPE) or 'llama' (SentencePiece BPE with byte fallback) */
  readonly kind: 'gpt2' | 'llama';
  readonly vocabSize: number;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string;
  /** the vocabulary entry of a token, as stored in the model */
  tokenString(id: number): string;
}

/** ggml token types (tokenizer.ggml.token_type). */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
