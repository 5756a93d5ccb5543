import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  createQuantizer,
  fromBfloat16Bits,
  fromE4m3,
  roundToFloat16,
  toBfloat16Bits,
  toE4m3,
} from '../../src/index.js';

const f32 = fc.float({ noNaN: true, noDefaultInfinity: true });

describe('passthrough and fp8 quantizers round trip (property)', () => {
  it('fp16: every value decodes to its fp16 rounding; relative error ≤ 2^-11 for normals', () => {
    const q = createQuantizer({ kind: 'fp16' });
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -65504, max: 65504, noNaN: true }), { minLength: 0, maxLength: 64 }),
        (vals) => {
          const x = Float32Array.from(vals);
          const shape = { tokens: x.length, kvHeads: 1, headDim: 1 };
          const enc = q.encode(x, shape);
          expect(enc.bytes.length).toBe(2 * x.length);
          const y = q.decode(enc);
          for (let i = 0; i < x.length; i++) {
            expect(Object.is(y[i], roundToFloat16(x[i]!))).toBe(true);
            if (Math.abs(x[i]!) >= 2 ** -14)
              expect(Math.abs(y[i]! - x[i]!)).toBeLessThanOrEqual(Math.abs(x[i]!) * 2 ** -11);
            else expect(Math.abs(y[i]! - x[i]!)).toBeLessThanOrEqual(2 ** -25);
          }
        },
      ),
      { numRuns: 300, seed: 17 },
    );
    expect(() => q.encode(new Float32Array([70000]), { tokens: 1, kvHeads: 1, headDim: 1 })).toThrow(
      InvalidArgumentError,
    );
  });

  it('bf16: every value decodes to its bf16 rounding', () => {
    const q = createQuantizer({ kind: 'bf16' });
    fc.assert(
      fc.property(fc.array(f32, { maxLength: 64 }), (vals) => {
        const x = Float32Array.from(vals).map((v) => (Math.abs(v) > 3.38e38 ? 0 : v));
        const y = q.decode(q.encode(x, { tokens: x.length, kvHeads: 1, headDim: 1 }));
        for (let i = 0; i < x.length; i++)
          expect(Object.is(y[i], fromBfloat16Bits(toBfloat16Bits(x[i]!)))).toBe(true);
      }),
      { numRuns: 300, seed: 18 },
    );
    expect(() => q.encode(new Float32Array([3.4e38]), { tokens: 1, kvHeads: 1, headDim: 1 })).toThrow(
      InvalidArgumentError,
    );
  });

  it('fp8: every value decodes to its e4m3 rounding (saturated at ±448)', () => {
    const q = createQuantizer({ kind: 'fp8', format: 'e4m3' });
    fc.assert(
      fc.property(fc.array(f32, { maxLength: 64 }), (vals) => {
        const x = Float32Array.from(vals);
        const y = q.decode(q.encode(x, { tokens: x.length, kvHeads: 1, headDim: 1 }));
        for (let i = 0; i < x.length; i++) {
          expect(y[i]).toBe(fromE4m3(toE4m3(x[i]!)));
          expect(Math.abs(y[i]!)).toBeLessThanOrEqual(448);
          if (Math.abs(x[i]!) >= 2 ** -6 && Math.abs(x[i]!) <= 448) {
            expect(Math.abs(y[i]! - x[i]!)).toBeLessThanOrEqual(Math.abs(x[i]!) * 2 ** -4);
          }
        }
      }),
      { numRuns: 300, seed: 19 },
    );
  });
});
