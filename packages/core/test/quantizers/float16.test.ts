import { getFloat16, setFloat16 } from '@petamoriken/float16';
import { describe, expect, it } from 'vitest';
import {
  SeededRandom,
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  fromBfloat16Bits,
  fromFloat16Bits,
  toBfloat16Bits,
  toFloat16Bits,
} from '../../src/index.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fromBits = (b: number) => {
  u32[0] = b;
  return f32[0]!;
};

describe('fp16', () => {
  it('encodes known bit patterns', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff],
      [65519.99, 0x7bff], // below the rounding midpoint to Inf
      [65520, 0x7c00], // midpoint, ties to even → Inf
      [1e6, 0x7c00],
      [-1e6, 0xfc00],
      [Number.POSITIVE_INFINITY, 0x7c00],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // tie between 0 and 2^-24 → even (0)
      [1.5 * 2 ** -25, 0x0001],
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal units → even (2)
      [1023 * 2 ** -24, 0x03ff], // largest subnormal
      [1 + 2 ** -11, 0x3c00], // tie → even mantissa
      [1 + 3 * 2 ** -11, 0x3c02], // tie → even mantissa (up)
      [0.1, 0x2e66],
      [-3.140625, 0xc248],
    ];
    for (const [x, h] of cases) expect(toFloat16Bits(x), `fp16 of ${x}`).toBe(h);
    expect(toFloat16Bits(Number.NaN) & 0x7c00).toBe(0x7c00);
    expect(toFloat16Bits(Number.NaN) & 0x3ff).not.toBe(0);
  });

  it('decodes every bit pattern like @petamoriken/float16', () => {
    const dv = new DataView(new ArrayBuffer(2));
    for (let h = 0; h < 65536; h++) {
      dv.setUint16(0, h, true);
      const ref = getFloat16(dv, 0, true);
      const got = fromFloat16Bits(h);
      if (Number.isNaN(ref)) expect(Number.isNaN(got)).toBe(true);
      else expect(Object.is(got, ref), `bits 0x${h.toString(16)}`).toBe(true);
    }
  });

  it('round-trips every finite fp16 value exactly', () => {
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      expect(toFloat16Bits(fromFloat16Bits(h))).toBe(h);
    }
  });

  it('encodes 200k random fp32 bit patterns like @petamoriken/float16', () => {
    const rng = new SeededRandom(1);
    const dv = new DataView(new ArrayBuffer(2));
    const src = new Float32Array(200_000);
    for (let i = 0; i < src.length; i++) {
      let x: number;
      do x = fromBits(rng.nextUint32());
      while (Number.isNaN(x));
      // bias half of the cases into the fp16 range, where rounding matters
      src[i] = i % 2 === 0 ? x : Math.fround((rng.next() - 0.5) * 2 ** (rng.next() * 44 - 28));
    }
    const bulk = float32ToFloat16Bits(src);
    for (let i = 0; i < src.length; i++) {
      setFloat16(dv, 0, src[i]!, true);
      const ref = dv.getUint16(0, true);
      if (bulk[i] !== ref) expect(bulk[i], `x = ${src[i]}`).toBe(ref);
    }
    const back = float16BitsToFloat32(bulk);
    for (let i = 0; i < 1000; i++) expect(back[i]).toBe(fromFloat16Bits(bulk[i]!));
  });
});

describe('bf16', () => {
  it('encodes known bit patterns with round-to-nearest-even', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3f80],
      [-2, 0xc000],
      [fromBits(0x3f808000), 0x3f80], // tie, even stays
      [fromBits(0x3f818000), 0x3f82], // tie, odd rounds up
      [fromBits(0x3f808001), 0x3f81], // above tie
      [fromBits(0x7f7fffff), 0x7f80], // max fp32 overflows to Inf
      [Number.POSITIVE_INFINITY, 0x7f80],
      [Number.NEGATIVE_INFINITY, 0xff80],
      [fromBits(0x00010000), 0x0001], // subnormal
      [3.140625, 0x4049],
    ];
    for (const [x, h] of cases) expect(toBfloat16Bits(x), `bf16 of ${x}`).toBe(h);
    expect(Number.isNaN(fromBfloat16Bits(toBfloat16Bits(Number.NaN)))).toBe(true);
    expect(Number.isNaN(fromBfloat16Bits(toBfloat16Bits(fromBits(0x7f800001))))).toBe(true); // NaN payload in low bits
  });

  it('bulk round trip is within half a bf16 ulp', () => {
    const src = new SeededRandom(2).normalArray(10_000, 0, 100);
    const back = bfloat16BitsToFloat32(float32ToBfloat16Bits(src));
    for (let i = 0; i < src.length; i++) {
      const x = src[i]!;
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(x))) - 7);
      expect(Math.abs(back[i]! - x)).toBeLessThanOrEqual(ulp / 2);
      expect(toBfloat16Bits(back[i]!)).toBe(toBfloat16Bits(x));
    }
  });
});
