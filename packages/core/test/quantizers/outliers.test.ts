import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OutlierSpec, QuantizerSpec } from '../../src/index.js';
import {
  InvalidArgumentError,
  OutlierQuantizer,
  SeededRandom,
  ShapeError,
  createQuantizer,
  quantizerLabel,
  roundToFloat16,
} from '../../src/index.js';

function mse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}

describe('outliers wrapper', () => {
  it('keeps the top-k by magnitude exactly (fp16) and sends the rest, zeroed, to the inner quantizer (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<'token' | 'channel'>('token', 'channel'),
        fc.integer({ min: 0, max: 9 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.boolean(),
        (axis, count, tokens, kvHeads, seed, ties) => {
          const inner: QuantizerSpec = { kind: 'uniform', bits: 3, axis: 'token', groupSize: 8 };
          const spec: OutlierSpec = { kind: 'outliers', axis, count, inner };
          const q = createQuantizer(spec);
          const shape = { tokens, kvHeads, headDim: 8 };
          const C = kvHeads * 8;
          const x = new SeededRandom(seed).normalArray(tokens * C, 0, 4);
          if (ties) for (let i = 0; i < x.length; i++) x[i] = Math.round(x[i]!); // many equal magnitudes
          const y = q.decode(q.encode(x, shape));
          // expected outlier set: top-k by |x|, ties → lower index
          const kept = new Uint8Array(x.length);
          const lists = axis === 'token' ? tokens : C;
          const len = axis === 'token' ? C : tokens;
          const k = Math.min(count, len);
          for (let l = 0; l < lists; l++) {
            const pos = Array.from({ length: len }, (_, i) => (axis === 'token' ? l * C + i : i * C + l));
            pos.sort((a, b) => Math.abs(x[b]!) - Math.abs(x[a]!) || a - b);
            for (const p of pos.slice(0, k)) kept[p] = 1;
          }
          const zeroed = x.slice();
          for (let i = 0; i < x.length; i++) if (kept[i]) zeroed[i] = 0;
          const innerQ = createQuantizer(inner);
          const rest = innerQ.decode(innerQ.encode(zeroed, shape));
          for (let i = 0; i < x.length; i++) expect(y[i]).toBe(kept[i] ? roundToFloat16(x[i]!) : rest[i]);
        },
      ),
      { numRuns: 200, seed: 14 },
    );
  });

  it('outliers per token rescue a 2-bit per-token quantizer from planted spikes', () => {
    const shape = { tokens: 256, kvHeads: 2, headDim: 64 };
    const C = 128;
    const rng = new SeededRandom(41);
    const x = rng.normalArray(256 * C);
    for (let t = 0; t < 256; t++) x[t * C + Math.floor(rng.next() * C)] = 40 * (rng.next() < 0.5 ? -1 : 1);
    const inner: QuantizerSpec = { kind: 'uniform', bits: 2, axis: 'token', groupSize: 64 };
    const plain = createQuantizer(inner);
    const wrapped = createQuantizer({ kind: 'outliers', axis: 'token', count: 1, inner });
    const mPlain = mse(x, plain.decode(plain.encode(x, shape)));
    const mWrapped = mse(x, wrapped.decode(wrapped.encode(x, shape)));
    expect(mWrapped).toBeLessThan(mPlain / 3);
    // cost: 32 bits per token of 128 values = 0.25 bits/value more
    expect(wrapped.bitsPerValue(shape) - plain.bitsPerValue(shape)).toBeCloseTo(0.25, 10);
  });

  it('rejects bad specs; u16 index limits', () => {
    const inner: QuantizerSpec = { kind: 'fp16' };
    expect(() => createQuantizer({ kind: 'outliers', axis: 'token', count: -1, inner })).toThrow(
      InvalidArgumentError,
    );
    expect(() => createQuantizer({ kind: 'outliers', axis: 'row' as 'token', count: 1, inner })).toThrow(
      InvalidArgumentError,
    );
    expect(() => createQuantizer({ kind: 'outliers', axis: 'token', count: 1 } as OutlierSpec)).toThrow(
      InvalidArgumentError,
    );
    const q = new OutlierQuantizer(
      { kind: 'outliers', axis: 'channel', count: 1, inner },
      createQuantizer(inner),
    );
    expect(() => q.encodedBytes({ tokens: 70000, kvHeads: 1, headDim: 1 })).toThrow(ShapeError);
  });
});

describe('quantizerLabel', () => {
  it('names every kind shortly', () => {
    expect(quantizerLabel({ kind: 'fp16' })).toBe('fp16');
    expect(quantizerLabel({ kind: 'fp8', format: 'e4m3' })).toBe('fp8-e4m3');
    expect(quantizerLabel({ kind: 'uniform', bits: 2, axis: 'channel', groupSize: 128 })).toBe('u2-ch128');
    expect(
      quantizerLabel({ kind: 'codebook', bits: 3, axis: 'token', groupSize: 64, norm: 'rms', codebook: [] }),
    ).toBe('cb3-tok64-rms-fit');
    expect(quantizerLabel({ kind: 'higgs', bits: 2.5, dim: 2, block: 128, seed: 0 })).toBe(
      'higgs2.5-2d-h128',
    );
    expect(
      quantizerLabel({
        kind: 'outliers',
        axis: 'token',
        count: 4,
        inner: { kind: 'uniform', bits: 4, axis: 'token', groupSize: 64 },
      }),
    ).toBe('u4-tok64+o4tok');
  });
});
