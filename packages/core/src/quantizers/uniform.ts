/**
 * Uniform asymmetric quantization (KIVI): per group an fp16 scale and an fp16 minimum,
 * `code = clamp(round(fp32(fp32(x − min) / scale)), 0, 2^b − 1)` (round half away from zero,
 * IEEE fp32 division) with the fp16-rounded scale and min, `x̂ = fp32(min + fp32(code · scale))`.
 * Layout: `[scales fp16 × nGroups][mins fp16 × nGroups][codes packed, token-major]`.
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
import type { UniformSpec } from './spec.js';
import type { BlockShape, EncodedBlock, Quantizer } from './types.js';

/** Uniform asymmetric per-group quantizer, 1..8 bits. */
export class UniformQuantizer implements Quantizer {
  readonly spec: UniformSpec;
  constructor(spec: UniformSpec) {
    if (!Number.isInteger(spec.bits) || spec.bits < 1 || spec.bits > 8) {
      throw new InvalidArgumentError(`uniform: bits must be an integer in 1..8, got ${spec.bits}`);
    }
    checkGrouping('uniform', spec);
    this.spec = { kind: 'uniform', bits: spec.bits, axis: spec.axis, groupSize: spec.groupSize };
  }

  encodedBytes(shape: BlockShape): number {
    return groupCount('uniform', this.spec, shape) * 4 + packedBytes(blockValues(shape), this.spec.bits);
  }

  bitsPerValue(shape: BlockShape): number {
    const n = blockValues(shape);
    return n === 0 ? 0 : (this.encodedBytes(shape) * 8) / n;
  }

  encode(data: Float32Array, shape: BlockShape): EncodedBlock {
    checkInput('uniform', data, shape);
    const { bits, axis, groupSize: gs } = this.spec;
    const T = shape.tokens;
    const C = blockChannels(shape);
    const nGroups = groupCount('uniform', this.spec, shape);
    const bytes = new Uint8Array(this.encodedBytes(shape));
    const scales = new Float32Array(nGroups);
    const mins = new Float32Array(nGroups);
    const levels = (1 << bits) - 1;
    const t16 = float16Table();
    // 1. per-group min and max
    const lo = new Float32Array(nGroups).fill(Number.POSITIVE_INFINITY);
    const hi = new Float32Array(nGroups).fill(Number.NEGATIVE_INFINITY);
    if (axis === 'channel') {
      for (let t = 0; t < T; t++) {
        const g0 = Math.floor(t / gs) * C;
        const row = t * C;
        for (let c = 0; c < C; c++) {
          const x = data[row + c]!;
          const g = g0 + c;
          if (x < lo[g]!) lo[g] = x;
          if (x > hi[g]!) hi[g] = x;
        }
      }
    } else {
      for (let t = 0; t < T; t++) {
        const row = t * C;
        const g0 = t * (C / gs);
        for (let c = 0; c < C; c++) {
          const x = data[row + c]!;
          const g = g0 + ((c / gs) | 0);
          if (x < lo[g]!) lo[g] = x;
          if (x > hi[g]!) hi[g] = x;
        }
      }
    }
    // 2. fp16 scale and min, stored, then used rounded
    const minOff = nGroups * 2;
    for (let g = 0; g < nGroups; g++) {
      const mn = lo[g]!;
      const range = Math.fround(hi[g]! - mn);
      const hs = fp16Field('uniform scale', Math.fround(range / levels));
      const hm = fp16Field('uniform min', mn);
      scales[g] = t16[hs]!;
      mins[g] = t16[hm]!;
      writeU16(bytes, 2 * g, hs);
      writeU16(bytes, minOff + 2 * g, hm);
    }
    // 3. codes, token-major
    const codes = new Uint8Array(T * C);
    const run = (row: number, c0: number, c1: number, s: number, m: number): void => {
      if (s === 0) return; // codes stay 0
      for (let i = row + c0; i < row + c1; i++) {
        let q = Math.round(Math.fround(Math.fround(data[i]! - m) / s));
        if (q < 0) q = 0;
        else if (q > levels) q = levels;
        codes[i] = q;
      }
    };
    for (let t = 0; t < T; t++) {
      const row = t * C;
      if (axis === 'channel') {
        const g0 = Math.floor(t / gs) * C;
        for (let c = 0; c < C; c++) {
          const s = scales[g0 + c]!;
          if (s === 0) continue;
          let q = Math.round(Math.fround(Math.fround(data[row + c]! - mins[g0 + c]!) / s));
          if (q < 0) q = 0;
          else if (q > levels) q = levels;
          codes[row + c] = q;
        }
      } else {
        const g0 = t * (C / gs);
        for (let cg = 0; cg < C / gs; cg++) run(row, cg * gs, cg * gs + gs, scales[g0 + cg]!, mins[g0 + cg]!);
      }
    }
    packBits(codes, bits, bytes.subarray(nGroups * 4));
    return { shape: { ...shape }, bytes };
  }

  decode(block: EncodedBlock, out?: Float32Array): Float32Array {
    const dst = checkEncoded('uniform block', block, this.encodedBytes(block.shape), out);
    const { bits, axis, groupSize: gs } = this.spec;
    const shape = block.shape;
    const T = shape.tokens;
    const C = blockChannels(shape);
    const nGroups = groupCount('uniform', this.spec, shape);
    const b = block.bytes;
    const scales = new Float32Array(nGroups);
    const mins = new Float32Array(nGroups);
    for (let g = 0; g < nGroups; g++) {
      const s = readFp16Field('uniform block scale', b, 2 * g);
      if (s < 0) throw new CorruptFileError('uniform block', `negative scale ${s} in group ${g}`);
      scales[g] = s;
      mins[g] = readFp16Field('uniform block min', b, nGroups * 2 + 2 * g);
    }
    const codes = unpackBits(b.subarray(nGroups * 4), bits, T * C);
    for (let t = 0; t < T; t++) {
      const row = t * C;
      if (axis === 'channel') {
        const g0 = Math.floor(t / gs) * C;
        for (let c = 0; c < C; c++)
          dst[row + c] = mins[g0 + c]! + Math.fround(codes[row + c]! * scales[g0 + c]!);
      } else {
        const g0 = t * (C / gs);
        for (let cg = 0; cg < C / gs; cg++) {
          const s = scales[g0 + cg]!;
          const m = mins[g0 + cg]!;
          for (let i = row + cg * gs; i < row + cg * gs + gs; i++) dst[i] = m + Math.fround(codes[i]! * s);
        }
      }
    }
    return dst;
  }
}
