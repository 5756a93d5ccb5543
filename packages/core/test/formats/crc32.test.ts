import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Hex } from '../../src/formats/index.js';
import { SeededRandom } from '../../src/random.js';

const ascii = (s: string) => new TextEncoder().encode(s);

/** Bit-at-a-time CRC-32, the textbook definition, as an independent oracle. */
function crc32Bitwise(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('crc32', () => {
  it('matches published check values', () => {
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(ascii('123456789'))).toBe(0xcbf43926); // the CRC-32/ISO-HDLC check value
    expect(crc32(ascii('a'))).toBe(0xe8b7be43);
    expect(crc32(ascii('abc'))).toBe(0x352441c2);
    expect(crc32(ascii('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
    expect(crc32(new Uint8Array(32))).toBe(0x190a55ad); // 32 zero bytes
    expect(crc32(new Uint8Array(32).fill(0xff))).toBe(0xff6cab0b); // 32 0xff bytes
  });

  it('equals the bitwise definition on seeded random inputs of every length 0..300', () => {
    const rng = new SeededRandom(1);
    for (let n = 0; n <= 300; n++) {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = rng.nextUint32() & 0xff;
      expect(crc32(b)).toBe(crc32Bitwise(b));
    }
  });

  it('continues over pieces: crc32(b, crc32(a)) = crc32(a ++ b)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), (a, b) => {
        const ab = new Uint8Array(a.length + b.length);
        ab.set(a);
        ab.set(b, a.length);
        expect(crc32(b, crc32(a))).toBe(crc32(ab));
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it('works on subarray views (respects byteOffset)', () => {
    const big = ascii('xx123456789yy');
    expect(crc32(big.subarray(2, 11))).toBe(0xcbf43926);
  });

  it('formats as 8 hex digits', () => {
    expect(crc32Hex(0xcbf43926)).toBe('cbf43926');
    expect(crc32Hex(0x1a)).toBe('0000001a');
  });
});
