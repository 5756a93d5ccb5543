/**
 * fp8 E4M3 passthrough: one byte per value (OCP E4M3FN, saturating, RNE), token-major (t·C + c).
 */
import { CorruptFileError, InvalidArgumentError } from '../errors.js';
import { blockValues, checkEncoded, checkInput } from './block.js';
import { e4m3Table, f32BitsToE4m3 } from './fp8-e4m3.js';
import type { Fp8Spec } from './spec.js';
import type { BlockShape, EncodedBlock, Quantizer } from './types.js';

/** fp8 e4m3 storage of every value (8 bits per value, no scale). */
export class Fp8Quantizer implements Quantizer {
  readonly spec: Fp8Spec;
  constructor(spec: Fp8Spec) {
    if (spec.format !== 'e4m3')
      throw new InvalidArgumentError(`fp8 format must be 'e4m3', got ${String(spec.format)}`);
    this.spec = { kind: 'fp8', format: 'e4m3' };
  }

  encodedBytes(shape: BlockShape): number {
    return blockValues(shape);
  }

  bitsPerValue(shape: BlockShape): number {
    return blockValues(shape) === 0 ? 0 : 8;
  }

  encode(data: Float32Array, shape: BlockShape): EncodedBlock {
    checkInput('fp8', data, shape);
    const n = data.length;
    const bytes = new Uint8Array(n);
    const src = new Uint32Array(data.buffer, data.byteOffset, n);
    for (let i = 0; i < n; i++) bytes[i] = f32BitsToE4m3(src[i]!);
    return { shape: { ...shape }, bytes };
  }

  decode(block: EncodedBlock, out?: Float32Array): Float32Array {
    const dst = checkEncoded('fp8 block', block, this.encodedBytes(block.shape), out);
    const b = block.bytes;
    const t = e4m3Table();
    for (let i = 0; i < dst.length; i++) {
      const v = b[i]!;
      if ((v & 0x7f) === 0x7f)
        throw new CorruptFileError(
          'fp8 block',
          `NaN code 0x${v.toString(16)} at value ${i} (the encoder never writes NaN)`,
        );
      dst[i] = t[v]!;
    }
    return dst;
  }
}
