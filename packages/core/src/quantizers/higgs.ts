/**
 * HIGGS-style quantizer: per token, blocks of `block` channels get seeded random signs and a
 * normalized fast Walsh–Hadamard transform, are divided by their RMS (stored fp16), and are
 * quantized with a grid optimal for N(0,1): scalar Lloyd-Max levels (`dim: 1`) or a 2-D
 * k-means grid (`dim: 2`, fractional rates).
 * Layout: `[scales fp16 × T·(C/block)][codes packed, token-major]` (FORMAT.md).
 */
import { CorruptFileError, InvalidArgumentError, ShapeError } from '../errors.js';
import { float16Table } from '../float16.js';
import { packBits, packedBytes, unpackBits } from './bitpack.js';
import {
  blockChannels,
  blockValues,
  checkEncoded,
  checkInput,
  fp16Field,
  readFp16Field,
  writeU16,
} from './block.js';
import { Grid2dIndex, gaussianGrid2d } from './grid2d.js';
import { fwht, isPowerOfTwo, randomSigns } from './hadamard.js';
import { lloydMaxGaussian, midpoints, nearestLevel } from './levels.js';
import type { HiggsSpec } from './spec.js';
import type { BlockShape, EncodedBlock, Quantizer } from './types.js';

/** HIGGS-style Hadamard + Gaussian-grid quantizer. */
export class HiggsQuantizer implements Quantizer {
  readonly spec: HiggsSpec;
  /** Bits of one stored code: `bits` (scalar) or `2·bits` (2-D). */
  readonly codeBits: number;
  readonly #signs: Float32Array;
  readonly #levels: Float32Array | null;
  readonly #mids: Float64Array | null;
  readonly #grid: Float32Array | null;
  readonly #index: Grid2dIndex | null;

  constructor(spec: HiggsSpec) {
    const { bits, dim, block, seed } = spec;
    const gain = spec.scaleGain ?? 1;
    if (!(Number.isFinite(gain) && gain > 0 && gain <= 4)) {
      throw new InvalidArgumentError(
        `higgs: scaleGain must be a number in (0, 4], got ${String(spec.scaleGain)}`,
      );
    }
    if (dim !== 1 && dim !== 2)
      throw new InvalidArgumentError(`higgs: dim must be 1 or 2, got ${String(dim)}`);
    if (!isPowerOfTwo(block) || block < 2 || block > 65536) {
      throw new InvalidArgumentError(`higgs: block must be a power of two in 2..65536, got ${block}`);
    }
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new InvalidArgumentError(`higgs: seed must be an integer in 0..2^32−1, got ${seed}`);
    }
    if (dim === 1) {
      if (!Number.isInteger(bits) || bits < 1 || bits > 8) {
        throw new InvalidArgumentError(`higgs: scalar (dim 1) bits must be an integer in 1..8, got ${bits}`);
      }
      this.#levels = lloydMaxGaussian(bits);
      this.#mids = midpoints(this.#levels);
      this.#grid = null;
      this.#index = null;
      this.codeBits = bits;
    } else {
      this.#grid = gaussianGrid2d(bits);
      this.#index = new Grid2dIndex(this.#grid);
      this.#levels = null;
      this.#mids = null;
      this.codeBits = Math.round(2 * bits);
    }
    this.#signs = randomSigns(seed, block);
    this.spec = {
      kind: 'higgs',
      bits,
      dim,
      block,
      seed,
      ...(spec.scaleGain !== undefined ? { scaleGain: gain } : {}),
    };
  }

  #check(what: string, shape: BlockShape): number {
    const C = blockChannels(shape);
    if (C % this.spec.block !== 0) {
      throw new ShapeError(
        `${what}: channels (kvHeads × headDim) must be a multiple of the Hadamard block ${this.spec.block}`,
        [`k·${this.spec.block}`],
        [C],
      );
    }
    return C;
  }

  encodedBytes(shape: BlockShape): number {
    const C = this.#check('higgs', shape);
    const codes = this.spec.dim === 1 ? shape.tokens * C : (shape.tokens * C) / 2;
    return ((shape.tokens * C) / this.spec.block) * 2 + packedBytes(codes, this.codeBits);
  }

  bitsPerValue(shape: BlockShape): number {
    const n = blockValues(shape);
    return n === 0 ? 0 : (this.encodedBytes(shape) * 8) / n;
  }

  encode(data: Float32Array, shape: BlockShape): EncodedBlock {
    checkInput('higgs', data, shape);
    const C = this.#check('higgs', shape);
    const T = shape.tokens;
    const B = this.spec.block;
    const nb = C / B;
    const nScales = T * nb;
    const bytes = new Uint8Array(this.encodedBytes(shape));
    const dim = this.spec.dim;
    const codes = new Uint8Array(dim === 1 ? T * C : (T * C) / 2);
    const y = new Float32Array(B);
    const signs = this.#signs;
    const gain = this.spec.scaleGain ?? 1;
    const t16 = float16Table();
    const mids = this.#mids;
    const index = this.#index;
    let zeroCode = 0;
    if (mids) zeroCode = nearestLevel(mids, 0);
    else if (index) zeroCode = index.nearest(0, 0);
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < nb; j++) {
        const base = t * C + j * B;
        for (let i = 0; i < B; i++) y[i] = signs[i]! * data[base + i]!;
        fwht(y, 0, B);
        let ss = 0;
        for (let i = 0; i < B; i++) ss += y[i]! * y[i]!;
        const rms = Math.fround(Math.sqrt(ss / B));
        const h = fp16Field('higgs scale', rms);
        // codes are chosen against the block's RMS; the stored scale may carry a gain (scaleGain)
        writeU16(bytes, 2 * (t * nb + j), gain === 1 ? h : fp16Field('higgs scale', Math.fround(rms * gain)));
        const s = t16[h]!;
        if (mids) {
          if (s === 0) codes.fill(zeroCode, base, base + B);
          else for (let i = 0; i < B; i++) codes[base + i] = nearestLevel(mids, Math.fround(y[i]! / s));
        } else if (index) {
          const p0 = base >> 1;
          if (s === 0) codes.fill(zeroCode, p0, p0 + B / 2);
          else
            for (let p = 0; p < B / 2; p++) {
              codes[p0 + p] = index.nearest(Math.fround(y[2 * p]! / s), Math.fround(y[2 * p + 1]! / s));
            }
        }
      }
    }
    packBits(codes, this.codeBits, bytes.subarray(nScales * 2));
    return { shape: { ...shape }, bytes };
  }

  decode(block: EncodedBlock, out?: Float32Array): Float32Array {
    const dst = checkEncoded('higgs block', block, this.encodedBytes(block.shape), out);
    const shape = block.shape;
    const C = blockChannels(shape);
    const T = shape.tokens;
    const B = this.spec.block;
    const nb = C / B;
    const nScales = T * nb;
    const b = block.bytes;
    const codes = unpackBits(
      b.subarray(nScales * 2),
      this.codeBits,
      this.spec.dim === 1 ? T * C : (T * C) / 2,
    );
    const y = new Float32Array(B);
    const signs = this.#signs;
    const levels = this.#levels;
    const grid = this.#grid;
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < nb; j++) {
        const k = t * nb + j;
        const s = readFp16Field('higgs block scale', b, 2 * k);
        if (s < 0) throw new CorruptFileError('higgs block', `negative scale ${s} at block ${k}`);
        const base = t * C + j * B;
        if (levels) {
          for (let i = 0; i < B; i++) y[i] = levels[codes[base + i]!]! * s;
        } else if (grid) {
          const p0 = base >> 1;
          for (let p = 0; p < B / 2; p++) {
            const q = codes[p0 + p]! << 1;
            y[2 * p] = grid[q]! * s;
            y[2 * p + 1] = grid[q + 1]! * s;
          }
        }
        fwht(y, 0, B);
        for (let i = 0; i < B; i++) dst[base + i] = signs[i]! * y[i]!;
      }
    }
    return dst;
  }
}
