/**
 * Exact byte accounting and corrupt-input fuzzing across every quantizer kind.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorruptFileError, SeededRandom, createQuantizer } from '../../src/index.js';
import { ALL_SPECS } from './specs.js';

describe('every quantizer', () => {
  it('encode().bytes.length × 8 / values === bitsPerValue(shape) for random shapes (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: ALL_SPECS.length - 1 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom(64, 128),
        (s, tokens, kvHeads, headDim) => {
          const q = createQuantizer(ALL_SPECS[s]!);
          const shape = { tokens, kvHeads, headDim };
          const n = tokens * kvHeads * headDim;
          const enc = q.encode(new SeededRandom(s * 1000 + tokens).normalArray(n), shape);
          expect(enc.bytes.length).toBe(q.encodedBytes(shape));
          expect(q.bitsPerValue(shape)).toBe(n === 0 ? 0 : (enc.bytes.length * 8) / n);
        },
      ),
      { numRuns: 300, seed: 15 },
    );
  });

  it('decoding flipped bits or truncated bytes gives finite values or CorruptFileError, never another error', () => {
    const rng = new SeededRandom(16);
    let rejected = 0;
    let decoded = 0;
    for (const spec of ALL_SPECS) {
      const q = createQuantizer(spec);
      const shape = { tokens: 9, kvHeads: 2, headDim: 64 };
      const enc = q.encode(rng.normalArray(9 * 128, 0, 3), shape);
      for (let trial = 0; trial < 150; trial++) {
        let bytes = enc.bytes.slice();
        if (trial % 5 === 4) bytes = bytes.subarray(0, Math.floor(rng.next() * bytes.length));
        else
          for (let f = 0; f <= trial % 4; f++)
            bytes[Math.floor(rng.next() * bytes.length)]! ^= 1 << Math.floor(rng.next() * 8);
        try {
          const y = q.decode({ shape, bytes });
          for (const v of y) if (!Number.isFinite(v)) expect(v).toBe('finite');
          decoded++;
        } catch (e) {
          if (!(e instanceof CorruptFileError)) throw e;
          rejected++;
        }
      }
    }
    expect(rejected).toBeGreaterThan(0);
    expect(decoded).toBeGreaterThan(0);
  });
});
