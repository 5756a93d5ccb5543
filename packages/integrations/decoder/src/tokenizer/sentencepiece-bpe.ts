import { InvalidArgumentError } from '@kvq/core';
import { splitSpecial } from './special-split.js';
import { type DecodeOptions, type EncodeOptions, TOKEN_TYPE, type Tokenizer } from './types.js';

/** Inputs of {@link SentencePieceBpeTokenizer}. */
export interface SentencePieceVocab {
  /** pieces, with `▁` for spaces and `<0xXX>` byte tokens */
  readonly tokens: readonly string[];
  /** merge priority of each piece (higher merges first) */
  readonly scores: readonly number[];
  readonly tokenTypes?: readonly number[];
  readonly bos?: number;
  readonly eos?: number;
  readonly unk?: number;
  /** prepend a space to the text before encoding (default true, as SentencePiece/llama.cpp) */
  readonly addSpacePrefix?: boolean;
}

interface Symbol {
  text: string;
  prev: number;
  next: number;
}

interface Bigram {
  left: number;
  right: number;
  score: number;
  text: string;
}

/** Max-heap of bigrams by score, ties → leftmost first (llama.cpp's llm_tokenizer_spm order). */
class BigramHeap {
  readonly #a: Bigram[] = [];
  get size(): number {
    return this.#a.length;
  }
  #before(x: Bigram, y: Bigram): boolean {
    return x.score > y.score || (x.score === y.score && x.left < y.left);
  }
  push(b: Bigram): void {
    const a = this.#a;
    a.push(b);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Bigram {
    const a = this.#a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.#before(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.#before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');
const SPACE = '\u2581';

/**
 * SentencePiece BPE as llama.cpp's `llama` vocabulary runs it: spaces become `▁`, a space is
 * prepended, characters are merged pairwise by the highest piece score, and characters with no
 * piece fall back to `<0xXX>` byte tokens.
 */
export class SentencePieceBpeTokenizer implements Tokenizer {
  readonly kind = 'llama' as const;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly #tokens: readonly string[];
  readonly #scores: readonly number[];
  readonly #ids = new Map<string, number>();
  readonly #byteIds = new Int32Array(256).fill(-1);
  readonly #byteOf = new Map<number, number>();
  readonly #specials = new Map<string, number>();
  readonly #control = new Set<number>();
  readonly #unk: number | undefined;
  readonly #addSpacePrefix: boolean;

  constructor(vocab: SentencePieceVocab) {
    if (vocab.scores.length !== vocab.tokens.length) {
      throw new InvalidArgumentError(
        `tokenizer: ${vocab.tokens.length} tokens but ${vocab.scores.length} scores`,
      );
    }
    this.#tokens = vocab.tokens;
    this.#scores = vocab.scores;
    vocab.tokens.forEach((t, i) => {
      const type = vocab.tokenTypes?.[i];
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
      if (m && (type === undefined || type === TOKEN_TYPE.BYTE)) {
        const b = Number.parseInt(m[1]!, 16);
        this.#byteIds[b] = i;
        this.#byteOf.set(i, b);
        return;
      }
      if (type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.USER_DEFINED) this.#specials.set(t, i);
      if (type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.UNKNOWN) this.#control.add(i);
      if (!this.#ids.has(t)) this.#ids.set(t, i);
    });
    this.bos = vocab.bos;
    this.eos = vocab.eos;
    this.#unk = vocab.unk;
    this.#addSpacePrefix = vocab.addSpacePrefix ?? true;
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
    let atStart = true;
    for (const piece of pieces) {
      if ('special' in piece) {
        out.push(piece.special);
        atStart = true;
        continue;
      }
      const prefixed = this.#addSpacePrefix && atStart ? ` ${piece.text}` : piece.text;
      this.#encodeText(prefixed.replaceAll(' ', SPACE), out);
      atStart = false;
    }
    return out;
  }

  #encodeText(text: string, out: number[]): void {
    const chars = Array.from(text);
    const symbols: Symbol[] = chars.map((ch, i) => ({
      text: ch,
      prev: i - 1,
      next: i + 1 < chars.length ? i + 1 : -1,
    }));
    if (symbols.length === 0) return;
    const heap = new BigramHeap();
    const tryAdd = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const t = symbols[left]!.text + symbols[right]!.text;
      const id = this.#ids.get(t);
      if (id === undefined) return;
      heap.push({ left, right, score: this.#scores[id]!, text: t });
    };
    for (let i = 1; i < symbols.length; i++) tryAdd(i - 1, i);
    while (heap.size > 0) {
      const b = heap.pop();
      const l = symbols[b.left]!;
      const r = symbols[b.right]!;
      // stale: one side was merged away or changed since this bigram was queued
      if (l.text.length === 0 || r.text.length === 0 || l.text + r.text !== b.text) continue;
      l.text = b.text;
      r.text = '';
      l.next = r.next;
      if (r.next >= 0) symbols[r.next]!.prev = b.left;
      tryAdd(l.prev, b.left);
      tryAdd(b.left, l.next);
    }
    for (let i = 0; i >= 0; i = symbols[i]!.next) {
      const s = symbols[i]!.text;
      const id = this.#ids.get(s);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const byte of encoder.encode(s)) {
        const bid = this.#byteIds[byte]!;
        if (bid >= 0) out.push(bid);
        else if (this.#unk !== undefined) out.push(this.#unk);
        else
          throw new InvalidArgumentError(
            `tokenizer: byte 0x${byte.toString(16)} has no token and the vocabulary has no <unk>`,
          );
      }
    }
  }

  /** Decodes ids; the space the encoder prepended is removed from the start of the text. */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecial ?? true;
    const bytes: number[] = [];
    let out = '';
    let first = true;
    const flush = () => {
      out += decoder.decode(new Uint8Array(bytes));
      bytes.length = 0;
    };
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k]!;
      const t = this.tokenString(id);
      const byte = this.#byteOf.get(id);
      if (byte !== undefined) {
        bytes.push(byte);
        first = false;
        continue;
      }
      if (this.#control.has(id)) {
        if (skip) continue;
        flush();
        out += t;
        continue;
      }
      let piece = t.replaceAll(SPACE, ' ');
      if (first && this.#addSpacePrefix && piece.startsWith(' ')) piece = piece.slice(1);
      first = false;
      for (const b of encoder.encode(piece)) bytes.push(b);
    }
    flush();
    return out;
  }
}
