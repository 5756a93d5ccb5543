import { CorruptFileError, InvalidArgumentError } from '../errors.js';
/**
 * fp16 / bf16 passthrough: 2 bytes per value, little-endian, in token-major order (t·C + c).
 */
import { f32BitsToBf16Bits, f32BitsToF16Bits, float16Table } from '../float16.js';
import { blockValues, checkEncoded, checkInput } from './block.js';
import type { PassthroughSpec } from './spec.js';
import type { BlockShape, EncodedBlock, Quantizer } from './types.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** fp16 or bf16 storage of every value (16 bits per value). */
export class PassthroughQuantizer implements Quantizer {
  readonly spec: PassthroughSpec;
  constructor(spec: PassthroughSpec) {
    if (spec.kind !== 'fp16' && spec.kind !== 'bf16') {
      throw new InvalidArgumentError(`passthrough kind must be 'fp16' or 'bf16', got ${String(spec.kind)}`);
    }
    this.spec = { kind: spec.kind };
  }

  encodedBytes(shape: BlockShape): number {
    return blockValues(shape) * 2;
  }

  bitsPerValue(shape: BlockShape): number {
    return blockValues(shape) === 0 ? 0 : 16;
  }

  encode(data: Float32Array, shape: BlockShape): EncodedBlock {
    checkInput(this.spec.kind, data, shape);
    const n = data.length;
    const bytes = new Uint8Array(n * 2);
    const src = new Uint32Array(data.buffer, data.byteOffset, n);
    // typed arrays use the platform's byte order; write u16 directly when it is little-endian
    const h16 = LITTLE_ENDIAN ? new Uint16Array(bytes.buffer) : new Uint16Array(n);
    const convert = this.spec.kind === 'fp16' ? f32BitsToF16Bits : f32BitsToBf16Bits;
    const infMask = this.spec.kind === 'fp16' ? 0x7c00 : 0x7f80;
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const h = convert(src[i]!);
      h16[i] = h;
      bad |= (h & infMask) === infMask ? 1 : 0;
    }
    if (bad) {
      for (let i = 0; i < n; i++) {
        if ((h16[i]! & infMask) === infMask) {
          throw new InvalidArgumentError(
            `${this.spec.kind} input: ${data[i]} at flat index ${i} is outside the ${this.spec.kind} range (it would be stored as Inf)`,
          );
        }
      }
    }
    if (!LITTLE_ENDIAN) {
      for (let i = 0; i < n; i++) {
        bytes[2 * i] = h16[i]! & 0xff;
        bytes[2 * i + 1] = h16[i]! >>> 8;
      }
    }
    return { shape: { ...shape }, bytes };
  }

  decode(block: EncodedBlock, out?: Float32Array): Float32Array {
    const what = `${this.spec.kind} block`;
    const dst = checkEncoded(what, block, this.encodedBytes(block.shape), out);
    const b = block.bytes;
    const n = dst.length;
    if (this.spec.kind === 'fp16') {
      const t = float16Table();
      for (let i = 0; i < n; i++) {
        const h = b[2 * i]! | (b[2 * i + 1]! << 8);
        if ((h & 0x7c00) === 0x7c00) throw nonFinite(what, i);
        dst[i] = t[h]!;
      }
    } else {
      const o = new Uint32Array(dst.buffer, dst.byteOffset, n);
      for (let i = 0; i < n; i++) {
        const hi = b[2 * i + 1]!;
        if ((hi & 0x7f) === 0x7f && (b[2 * i]! & 0x80) === 0x80) throw nonFinite(what, i);
        o[i] = (b[2 * i]! << 16) | (hi << 24);
      }
    }
    return dst;
  }
}

function nonFinite(what: string, i: number): CorruptFileError {
  return new CorruptFileError(what, `non-finite value at index ${i} (the encoder never writes NaN or Inf)`);
}
