import { type QuantizerSpec, SeededRandom } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { allocateBits } from '../src/allocate-bits.js';

const layout = { layers: 4, queryHeads: 4, kvHeads: 2, headDim: 64 };
const C = 128;
const higgs = (bits: number): QuantizerSpec => ({ kind: 'higgs', bits, dim: 2, block: 128, seed: 1 });
const options = [1, 1.5, 2, 2.5, 3].map((b) => ({ spec: higgs(b) }));

function data(seed: number) {
  const rng = new SeededRandom(seed);
  const tokens = 512;
  // independent layers (no predictor): layer 2's keys have a heavy-tailed, harder distribution
  const keys = Array.from({ length: layout.layers }, (_, l) => {
    const x = rng.normalArray(tokens * C);
    if (l === 2) for (let i = 0; i < x.length; i += 7) x[i]! *= 8;
    return x;
  });
  const values = Array.from({ length: layout.layers }, () => rng.normalArray(tokens * C));
  return { tokens, keys, values };
}

describe('allocateBits', () => {
  it('stays within the budget and gives keys (weighted ×2) at least the bits of values', () => {
    const a = allocateBits(data(1), {
      layout,
      keyOptions: options,
      valueOptions: options,
      budget: 2,
      predicted: false,
    });
    expect(a.bitsPerValue).toBeLessThanOrEqual(2 + 1e-9);
    expect(a.bitsPerValue).toBeGreaterThan(1.8);
    for (const l of a.layers) expect(l.keyBits).toBeGreaterThanOrEqual(l.valueBits);
    expect(a.layerQuantizers).toHaveLength(4);
  });

  it('errors fall as the budget grows', () => {
    const d = data(2);
    const err = (budget: number) =>
      allocateBits(d, {
        layout,
        keyOptions: options,
        valueOptions: options,
        budget,
        predicted: false,
      }).layers.reduce((s, l) => s + 2 * l.keyError + l.valueError, 0);
    expect(err(2.5)).toBeLessThan(err(1.8));
  });

  it('rejects a budget below the cheapest widths', () => {
    expect(() =>
      allocateBits(data(3), { layout, keyOptions: options, valueOptions: options, budget: 0.5 }),
    ).toThrow(/below the cheapest/);
  });
});
