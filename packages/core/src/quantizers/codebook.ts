/**
 * Non-uniform scalar quantization (QAQ-style): per group an fp16 scale (absmax or RMS), values
 * divided by it and mapped to the nearest level of a codebook of `2^bits` levels.
 * Layout: `[scales fp16 × nGroups][codes packed, token-major]` (FORMAT.md).
 */
import { CorruptFileError, InvalidArgumentError } from '../errors.js';
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
import { checkGrouping, groupCount } from './groups.js';
import { checkLevels, lloydMaxGaussian, midpoints, nearestLevel } from './levels.js';
import type { CodebookSpec } from './spec.js';
import type { BlockShape, EncodedBlock, Quantizer } from './types.js';

/**
 * The levels a codebook spec uses: its own `codebook`, or the Lloyd-Max levels of N(0,1)
 * (`norm: 'rms'`), or those divided by their largest magnitude (`norm: 'absmax'`).
 */
export function codebookLevels(spec: CodebookSpec): Float32Array {
  const count = 1 << spec.bits;
  if (spec.codebook !== undefined) return checkLevels('codebook', spec.codebook, count);
  const g = lloydMaxGaussian(spec.bits);
  if (spec.norm === 'absmax') {
    const top = Math.max(Math.abs(g[0]!), Math.abs(g[g.length - 1]!));
    for (let i = 0; i < g.length; i++) g[i] = g[i]! / top;
  }
  return g;
}

/** Codebook (non-uniform) per-group quantizer, 1..8 bits. */
export class CodebookQuantizer implements Quantizer {
  readonly spec: CodebookSpec;
  /** The fp32 levels in use, ascending. */
  readonly levels: Float32Array;
  readonly #mids: Float64Array;

  constructor(spec: CodebookSpec) {
    if (!Number.isInteger(spec.bits) || spec.bits < 1 || spec.bits > 8) {
      throw new InvalidArgumentError(`codebook: bits must be an integer in 1..8, got ${spec.bits}`);
    }
    if (spec.norm !== 'absmax' && spec.norm !== 'rms') {
      throw new InvalidArgumentError(`codebook: norm must be 'absmax' or 'rms', got ${String(spec.norm)}`);
    }
    checkGrouping('codebook', spec);
    this.levels = codebookLevels(spec);
    this.#mids = midpoints(this.levels);
    this.spec = {
      kind: 'codebook',
      bits: spec.bits,
      axis: spec.axis,
      groupSize: spec.groupSize,
      norm: spec.norm,
      ...(spec.codebook !== undefined ? { codebook: Array.from(this.levels) } : {}),
    };
  }

  encodedBytes(shape: BlockShape): number {
    return groupCount('codebook', this.spec, shape) * 2 + packedBytes(blockValues(shape), this.spec.bits);
  }

  bitsPerValue(shape: BlockShape): number {
    const n = blockValues(shape);
    return n === 0 ? 0 : (this.encodedBytes(shape) * 8) / n;
  }

  /** Group index of every value `t·C + c` (FORMAT.md, "Groups"). */
  #groupIndex(T: number, C: number): Int32Array {
    const { axis, groupSize: gs } = this.spec;
    const gi = new Int32Array(T * C);
    for (let t = 0; t < T; t++) {
      const row = t * C;
      if (axis === 'channel') {
        const g0 = Math.floor(t / gs) * C;
        for (let c = 0; c < C; c++) gi[row + c] = g0 + c;
      } else {
        const g0 = t * (C / gs);
        for (let c = 0; c < C; c++) gi[row + c] = g0 + ((c / gs) | 0);
      }
    }
    return gi;
  }

  /** fp16 bits of every group's scale, and each value's group index. */
  #scales(data: Float32Array, shape: BlockShape): { h: Uint16Array; gi: Int32Array } {
    const T = shape.tokens;
    const C = blockChannels(shape);
    const nGroups = groupCount('codebook', this.spec, shape);
    const gi = this.#groupIndex(T, C);
    const n = T * C;
    const acc = new Float64Array(nGroups);
    const cnt = new Int32Array(nGroups);
    if (this.spec.norm === 'absmax') {
      for (let i = 0; i < n; i++) {
        const a = Math.abs(data[i]!);
        const g = gi[i]!;
        if (a > acc[g]!) acc[g] = a;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const x = data[i]!;
        const g = gi[i]!;
        acc[g] = acc[g]! + x * x;
        cnt[g] = cnt[g]! + 1;
      }
      for (let g = 0; g < nGroups; g++) acc[g] = cnt[g]! > 0 ? Math.sqrt(acc[g]! / cnt[g]!) : 0;
    }
    const h = new Uint16Array(nGroups);
    for (let g = 0; g < nGroups; g++) h[g] = fp16Field('codebook scale', Math.fround(acc[g]!));
    return { h, gi };
  }

  /**
   * The normalized values `x / scale` the codebook sees for this block (0 where the scale is 0):
   * the samples to fit a codebook on (`fitCodebook`) for QAQ-style key / value codebooks.
   */
  normalize(data: Float32Array, shape: BlockShape): Float32Array {
    checkInput('codebook', data, shape);
    const { h, gi } = this.#scales(data, shape);
    const t16 = float16Table();
    const z = new Float32Array(data.length);
    for (let i = 0; i < z.length; i++) {
      const s = t16[h[gi[i]!]!]!;
      z[i] = s === 0 ? 0 : data[i]! / s;
    }
    return z;
  }

  encode(data: Float32Array, shape: BlockShape): EncodedBlock {
    checkInput('codebook', data, shape);
    const n = data.length;
    const { h, gi } = this.#scales(data, shape);
    const nGroups = h.length;
    const bytes = new Uint8Array(this.encodedBytes(shape));
    const t16 = float16Table();
    const scales = new Float32Array(nGroups);
    for (let g = 0; g < nGroups; g++) {
      scales[g] = t16[h[g]!]!;
      writeU16(bytes, 2 * g, h[g]!);
    }
    const mids = this.#mids;
    const zeroCode = nearestLevel(mids, 0);
    const codes = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const s = scales[gi[i]!]!;
      codes[i] = s === 0 ? zeroCode : nearestLevel(mids, Math.fround(data[i]! / s));
    }
    packBits(codes, this.spec.bits, bytes.subarray(nGroups * 2));
    return { shape: { ...shape }, bytes };
  }

  decode(block: EncodedBlock, out?: Float32Array): Float32Array {
    const dst = checkEncoded('codebook block', block, this.encodedBytes(block.shape), out);
    const shape = block.shape;
    const T = shape.tokens;
    const C = blockChannels(shape);
    const nGroups = groupCount('codebook', this.spec, shape);
    const b = block.bytes;
    const scales = new Float32Array(nGroups);
    for (let g = 0; g < nGroups; g++) {
      const s = readFp16Field('codebook block scale', b, 2 * g);
      if (s < 0) throw new CorruptFileError('codebook block', `negative scale ${s} in group ${g}`);
      scales[g] = s;
    }
    const codes = unpackBits(b.subarray(nGroups * 2), this.spec.bits, T * C);
    const gi = this.#groupIndex(T, C);
    const L = this.levels;
    for (let i = 0; i < T * C; i++) dst[i] = L[codes[i]!]! * scales[gi[i]!]!;
    return dst;
  }
}
