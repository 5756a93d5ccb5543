import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CorruptFileError,
  InvalidArgumentError,
  packBits,
  packedBytes,
  unpackBits,
} from '../../src/index.js';

describe('bitpack', () => {
  it('lays codes out LSB-first, little-endian bit order', () => {
    expect([...packBits(new Uint8Array([1, 0, 1, 1, 0, 0, 0, 0, 1]), 1)]).toEqual([0b00001101, 0b1]);
    expect([...packBits(new Uint8Array([1, 2, 3, 0, 3]), 2)]).toEqual([0b00111001, 0b11]);
    expect([...packBits(new Uint8Array([5, 7, 1]), 3)]).toEqual([0b01111101, 0]);
    expect([...packBits(new Uint16Array([0x3ff, 0x001]), 10)]).toEqual([0xff, 0b00000111, 0b00000000]);
    expect([...packBits(new Uint16Array([0x0abc, 0x0def]), 12)]).toEqual([0xbc, 0xfa, 0xde]);
  });

  it('round-trips every width 1..16 and odd lengths (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 0, max: 301 }),
        fc.integer(),
        (bits, n, seed) => {
          const codes = bits <= 8 ? new Uint8Array(n) : new Uint16Array(n);
          let s = seed >>> 0;
          for (let i = 0; i < n; i++) {
            s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
            codes[i] = (s >>> 8) & ((1 << bits) - 1);
          }
          const bytes = packBits(codes, bits);
          expect(bytes.length).toBe(packedBytes(n, bits));
          // padding bits are zero
          const used = n * bits;
          if (used % 8 !== 0) expect(bytes[bytes.length - 1]! >>> (used % 8)).toBe(0);
          const back = unpackBits(bytes, bits, n);
          expect(back.length).toBe(n);
          expect([...back]).toEqual([...codes]);
        },
      ),
      { numRuns: 400, seed: 7 },
    );
  });

  it('writes into a given buffer and reads from offsets', () => {
    const out = new Uint8Array(10).fill(0xaa);
    const codes = new Uint8Array([1, 2, 3, 4, 5, 6, 7]);
    const w = packBits(codes, 3, out.subarray(2));
    expect(w.length).toBe(3);
    expect(out[0]).toBe(0xaa);
    expect(out[5]).toBe(0xaa);
    expect([...unpackBits(out.subarray(2), 3, 7)]).toEqual([...codes]);
  });

  it('rejects codes that do not fit, bad widths, short buffers', () => {
    expect(() => packBits(new Uint8Array([4]), 2)).toThrow(InvalidArgumentError);
    expect(() => packBits(new Uint16Array([256]), 8)).toThrow(InvalidArgumentError);
    expect(() => packBits(new Uint8Array([0]), 0)).toThrow(InvalidArgumentError);
    expect(() => packBits(new Uint8Array([0]), 17)).toThrow(InvalidArgumentError);
    expect(() => unpackBits(new Uint8Array(2), 3, 6)).toThrow(CorruptFileError);
    expect(() => unpackBits(new Uint8Array(3), 12, 2, new Uint8Array(2))).toThrow(InvalidArgumentError);
  });
});
