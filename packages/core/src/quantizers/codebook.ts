/**
 * Non-uniform scalar quantization (QAQ-style): per group an fp16 scale (absmax or RMS), values
 * divided by it and mapped to the nearest level of a codebook of `2^bits` levels.
 * Layout: `[scales fp16 × nGroups]([means fp16 × nGroups] for `meanrms`)[codes packed, token-major]` (FORMAT.md).
 * `meanrms` subtracts each group's mean (stored) before scaling by the RMS of the rest: keys have
 * large per-channel offsets that a symmetric codebook would waste levels on.
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
    if (spec.norm !== 'absmax' && spec.norm !== 'rms' && spec.norm !== 'meanrms') {
      throw new InvalidArgumentError(
        `codebook: norm must be 'absmax', 'rms' or 'meanrms', got ${String(spec.norm)}`,
      );
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

  /** fp16 fields per group: the scale, and the mean for `norm: 'meanrms'`. */
  get #fields(): number {
    return this.spec.norm === 'meanrms' ? 2 : 1;
  }

  encodedBytes(shape: BlockShape): number {
    return (
      groupCount('codebook', this.spec, shape) * 2 * this.#fields +
      packedBytes(blockValues(shape), this.spec.bits)
    );
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

  /** fp16 bits of every group's scale (and mean, for `meanrms`), and each value's group index. */
  #scales(data: Float32Array, shape: BlockShape): { h: Uint16Array; m: Uint16Array; gi: Int32Array } {
    const T = shape.tokens;
    const C = blockChannels(shape);
    const nGroups = groupCount('codebook', this.spec, shape);
    const gi = this.#groupIndex(T, C);
    const n = T * C;
    const acc = new Float64Array(nGroups);
    const cnt = new Int32Array(nGroups);
    const m = new Uint16Array(nGroups);
    const mean = new Float32Array(nGroups);
    if (this.spec.norm === 'meanrms') {
      const sum = new Float64Array(nGroups);
      for (let i = 0; i < n; i++) {
        const g = gi[i]!;
        sum[g] = sum[g]! + data[i]!;
        cnt[g] = cnt[g]! + 1;
      }
      const t16 = float16Table();
      for (let g = 0; g < nGroups; g++) {
        m[g] = fp16Field('codebook mean', Math.fround(cnt[g]! > 0 ? sum[g]! / cnt[g]! : 0));
        mean[g] = t16[m[g]!]!;
      }
      for (let i = 0; i < n; i++) {
        const g = gi[i]!;
        const x = data[i]! - mean[g]!;
        acc[g] = acc[g]! + x * x;
      }
      for (let g = 0; g < nGroups; g++) acc[g] = cnt[g]! > 0 ? Math.sqrt(acc[g]! / cnt[g]!) : 0;
    } else if (this.spec.norm === 'absmax') {
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
    return { h, m, gi };
  }

  /**
   * The normalized values `x / scale` the codebook sees for this block (0 where the scale is 0):
   * the samples to fit a codebook on (`fitCodebook`) for QAQ-style key / value codebooks.
   */
  normalize(data: Float32Array, shape: BlockShape): Float32Array {
    checkInput('codebook', data, shape);
    const { h, m, gi } = this.#scales(data, shape);
    const t16 = float16Table();
    const centered = this.spec.norm === 'meanrms';
    const z = new Float32Array(data.length);
    for (let i = 0; i < z.length; i++) {
      const s = t16[h[gi[i]!]!]!;
      const x = centered ? Math.fround(data[i]! - t16[m[gi[i]!]!]!) : data[i]!;
      z[i] = s === 0 ? 0 : x / s;
    }
    return z;
  }

  encode(data: Float32Array, shape: BlockShape): EncodedBlock {
    checkInput('codebook', data, shape);
    const n = data.length;
    const { h, m, gi } = this.#scales(data, shape);
    const nGroups = h.length;
    const bytes = new Uint8Array(this.encodedBytes(shape));
    const t16 = float16Table();
    const centered = this.spec.norm === 'meanrms';
    const scales = new Float32Array(nGroups);
    const means = new Float32Array(nGroups);
    for (let g = 0; g < nGroups; g++) {
      scales[g] = t16[h[g]!]!;
      writeU16(bytes, 2 * g, h[g]!);
      if (centered) {
        means[g] = t16[m[g]!]!;
        writeU16(bytes, 2 * (nGroups + g), m[g]!);
      }
    }
    const mids = this.#mids;
    const zeroCode = nearestLevel(mids, 0);
    const codes = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const s = scales[gi[i]!]!;
      const x = centered ? Math.fround(data[i]! - means[gi[i]!]!) : data[i]!;
      codes[i] = s === 0 ? zeroCode : nearestLevel(mids, Math.fround(x / s));
    }
    packBits(codes, this.spec.bits, bytes.subarray(nGroups * 2 * this.#fields));
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
    const centered = this.spec.norm === 'meanrms';
    const means = new Float32Array(nGroups);
    if (centered)
      for (let g = 0; g < nGroups; g++) means[g] = readFp16Field('codebook block mean', b, 2 * (nGroups + g));
    const codes = unpackBits(b.subarray(nGroups * 2 * this.#fields), this.spec.bits, T * C);
    const gi = this.#groupIndex(T, C);
    const L = this.levels;
    if (centered) for (let i = 0; i < T * C; i++) dst[i] = L[codes[i]!]! * scales[gi[i]!]! + means[gi[i]!]!;
    else for (let i = 0; i < T * C; i++) dst[i] = L[codes[i]!]! * scales[gi[i]!]!;
    return dst;
  }
}
