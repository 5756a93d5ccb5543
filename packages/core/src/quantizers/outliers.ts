/**
 * Outliers kept apart (QAQ): per token (or per channel) the `count` largest-magnitude values are
 * stored sparse as fp16 value + u16 index; the block with those positions zeroed goes through
 * the inner quantizer.
 * Layout: `[values fp16 × N][indices u16 × N][inner bytes]` (FORMAT.md).
 */
import { CorruptFileError, InvalidArgumentError, ShapeError } from '../errors.js';
import {
  blockChannels,
  blockValues,
  checkEncoded,
  checkInput,
  fp16Field,
  readFp16Field,
  readU16,
  writeU16,
} from './block.js';
import type { OutlierSpec } from './spec.js';
import type { BlockShape, EncodedBlock, Quantizer } from './types.js';

/** Outliers-apart wrapper around an inner quantizer. */
export class OutlierQuantizer implements Quantizer {
  readonly spec: OutlierSpec;
  /** The quantizer of everything but the outliers. */
  readonly inner: Quantizer;

  /** `inner` must be the quantizer of `spec.inner` (`createQuantizer` builds both). */
  constructor(spec: OutlierSpec, inner: Quantizer) {
    if (spec.axis !== 'token' && spec.axis !== 'channel') {
      throw new InvalidArgumentError(`outliers: axis must be 'token' or 'channel', got ${String(spec.axis)}`);
    }
    if (!Number.isInteger(spec.count) || spec.count < 0 || spec.count > 65536) {
      throw new InvalidArgumentError(`outliers: count must be an integer in 0..65536, got ${spec.count}`);
    }
    this.inner = inner;
    this.spec = { kind: 'outliers', axis: spec.axis, count: spec.count, inner: inner.spec };
  }

  /** Outliers per list (`k`), number of lists, and the index range of one list. */
  #geometry(what: string, shape: BlockShape): { k: number; lists: number; range: number } {
    const C = blockChannels(shape);
    const T = shape.tokens;
    const range = this.spec.axis === 'token' ? C : T;
    const lists = this.spec.axis === 'token' ? T : C;
    const k = Math.min(this.spec.count, range);
    if (k > 0 && range > 65536) {
      throw new ShapeError(
        `${what}: outlier indices are u16, so the ${this.spec.axis === 'token' ? 'channels' : 'tokens'} of a block must be ≤ 65536`,
        ['≤ 65536'],
        [range],
      );
    }
    return { k, lists, range };
  }

  encodedBytes(shape: BlockShape): number {
    const { k, lists } = this.#geometry('outliers', shape);
    return 4 * k * lists + this.inner.encodedBytes(shape);
  }

  bitsPerValue(shape: BlockShape): number {
    const n = blockValues(shape);
    return n === 0 ? 0 : (this.encodedBytes(shape) * 8) / n;
  }

  encode(data: Float32Array, shape: BlockShape): EncodedBlock {
    checkInput('outliers', data, shape);
    const { k, lists, range } = this.#geometry('outliers', shape);
    const C = blockChannels(shape);
    const T = shape.tokens;
    const N = k * lists;
    // top-k lists, kept sorted by magnitude descending; equal magnitudes keep the lower index first
    const mag = new Float32Array(N);
    const idx = new Int32Array(N);
    const len = new Int32Array(lists);
    const byToken = this.spec.axis === 'token';
    if (k > 0) {
      for (let t = 0; t < T; t++) {
        const row = t * C;
        for (let c = 0; c < C; c++) {
          const a = Math.abs(data[row + c]!);
          const list = byToken ? t : c;
          const base = list * k;
          let n = len[list]!;
          if (n === k && !(a > mag[base + k - 1]!)) continue;
          if (n < k) n++;
          let p = n - 1;
          while (p > 0 && a > mag[base + p - 1]!) {
            mag[base + p] = mag[base + p - 1]!;
            idx[base + p] = idx[base + p - 1]!;
            p--;
          }
          mag[base + p] = a;
          idx[base + p] = byToken ? c : t;
          len[list] = n;
        }
      }
    }
    const innerBytes = this.inner.encodedBytes(shape);
    const bytes = new Uint8Array(4 * N + innerBytes);
    const work = data.slice();
    const sorted = new Int32Array(k);
    for (let list = 0; list < lists; list++) {
      const base = list * k;
      for (let r = 0; r < k; r++) sorted[r] = idx[base + r]!;
      sorted.sort();
      for (let r = 0; r < k; r++) {
        const i = sorted[r]!;
        const pos = byToken ? list * C + i : i * C + list;
        writeU16(bytes, 2 * (base + r), fp16Field('outlier value', data[pos]!));
        writeU16(bytes, 2 * N + 2 * (base + r), i);
        work[pos] = 0;
      }
    }
    bytes.set(this.inner.encode(work, shape).bytes, 4 * N);
    return { shape: { ...shape }, bytes };
  }

  decode(block: EncodedBlock, out?: Float32Array): Float32Array {
    const shape = block.shape;
    const dst = checkEncoded('outliers block', block, this.encodedBytes(shape), out);
    const { k, lists, range } = this.#geometry('outliers block', shape);
    const C = blockChannels(shape);
    const N = k * lists;
    const b = block.bytes;
    this.inner.decode({ shape, bytes: b.subarray(4 * N) }, dst);
    const byToken = this.spec.axis === 'token';
    for (let list = 0; list < lists; list++) {
      let prev = -1;
      for (let r = 0; r < k; r++) {
        const e = list * k + r;
        const i = readU16(b, 2 * N + 2 * e);
        if (i >= range || i <= prev) {
          throw new CorruptFileError(
            'outliers block',
            `outlier index ${i} in list ${list} is out of range (< ${range}) or not ascending`,
          );
        }
        prev = i;
        dst[byToken ? list * C + i : i * C + list] = readFp16Field('outliers block value', b, 2 * e);
      }
    }
    return dst;
  }
}
