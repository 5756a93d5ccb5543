import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, ROPE_STYLES, SeededRandom, applyRope, ropePairs } from '../src/index.js';

describe('ropePairs', () => {
  it('pairs adjacent channels (interleaved) and i with i + dims/2 (neox)', () => {
    expect(ropePairs(8, { style: 'interleaved' })).toEqual({
      style: 'interleaved',
      headDim: 8,
      dims: 8,
      pairs: [
        [0, 1],
        [2, 3],
        [4, 5],
        [6, 7],
      ],
      unrotated: [],
      partner: Int32Array.from([1, 0, 3, 2, 5, 4, 7, 6]),
    });
    expect(ropePairs(8, { style: 'neox' })).toEqual({
      style: 'neox',
      headDim: 8,
      dims: 8,
      pairs: [
        [0, 4],
        [1, 5],
        [2, 6],
        [3, 7],
      ],
      unrotated: [],
      partner: Int32Array.from([4, 5, 6, 7, 0, 1, 2, 3]),
    });
  });

  it('rotates only the first dims channels with partial rotary dims', () => {
    expect(ropePairs(8, { style: 'neox', dims: 4 })).toMatchObject({
      dims: 4,
      pairs: [
        [0, 2],
        [1, 3],
      ],
      unrotated: [4, 5, 6, 7],
      partner: Int32Array.from([2, 3, 0, 1, 4, 5, 6, 7]),
    });
    expect(ropePairs(6, { style: 'interleaved', dims: 2 })).toMatchObject({
      dims: 2,
      pairs: [[0, 1]],
      unrotated: [2, 3, 4, 5],
      partner: Int32Array.from([1, 0, 2, 3, 4, 5]),
    });
  });

  it('partner is an involution that agrees with pairs and unrotated', () => {
    for (const style of ROPE_STYLES)
      for (const headDim of [2, 6, 64, 80, 128])
        for (let dims = 2; dims <= headDim; dims += 2) {
          const { pairs, unrotated, partner } = ropePairs(headDim, { style, dims });
          expect(partner.length).toBe(headDim);
          expect(pairs.length).toBe(dims / 2);
          for (let d = 0; d < headDim; d++) {
            expect(partner[partner[d]!]).toBe(d);
            expect(partner[d] === d).toBe(d >= dims);
          }
          for (const [re, im] of pairs) expect([partner[re], partner[im]]).toEqual([im, re]);
          // every rotated channel is in exactly one pair
          expect(pairs.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: dims }, (_, d) => d));
          expect(unrotated).toEqual(Array.from({ length: headDim - dims }, (_, j) => dims + j));
        }
  });

  it('rejects an unknown style, a bad headDim and a bad dims with InvalidArgumentError naming the value', () => {
    const bad = (f: () => unknown, message: RegExp) => {
      expect(f).toThrow(InvalidArgumentError);
      expect(f).toThrow(message);
    };
    bad(
      () => ropePairs(8, { style: 'gptj' as 'neox' }),
      /rope.style must be 'interleaved' or 'neox', got "gptj"/,
    );
    bad(() => ropePairs(8, undefined as unknown as { style: 'neox' }), /rope.style must be .*got undefined/);
    for (const dims of [5, 10, 0, -2, 1.5, Number.NaN])
      bad(
        () => ropePairs(8, { style: 'neox', dims }),
        new RegExp(`rope.dims must be an even integer in \\[2, headDim = 8\\], got ${dims}`),
      );
    bad(() => ropePairs(7, { style: 'interleaved' }), /must then be even .*got headDim 7/);
    for (const headDim of [0, -4, 2.5, Number.NaN])
      bad(
        () => ropePairs(headDim, { style: 'neox' }),
        new RegExp(`headDim must be a positive integer, got ${headDim}`),
      );
  });
});

describe('applyRope rotates the pairs ropePairs names', () => {
  const cases = [
    ['interleaved', 16, 16],
    ['neox', 16, 16],
    ['interleaved', 16, 6],
    ['neox', 16, 10],
  ] as const;

  it('a one-hot channel moves only to its partner, by the angle of its pair', () => {
    const theta = 10000;
    const pos = 3;
    for (const [style, headDim, dims] of cases) {
      const { pairs, partner } = ropePairs(headDim, { style, dims });
      for (let d = 0; d < headDim; d++) {
        const x = new Float32Array(headDim);
        x[d] = 1;
        applyRope(x, 1, 1, headDim, pos, { theta, dims, style });
        const p = partner[d]!;
        for (let e = 0; e < headDim; e++)
          if (e !== d && e !== p) expect(Math.abs(x[e]!), `${style}/${dims} ${d}→${e}`).toBe(0);
        if (p === d) {
          expect(x[d]).toBe(1);
          continue;
        }
        const i = pairs.findIndex(([re, im]) => re === d || im === d);
        const angle = pos * theta ** (-(2 * i) / dims);
        // (re + i·im) ↦ e^{iθ}·(re + i·im): re → cos θ·re + sin θ·im, im → −sin θ·re + cos θ·im
        const sign = pairs[i]![0] === d ? 1 : -1;
        expect(x[d]).toBeCloseTo(Math.cos(angle), 6);
        expect(x[p]).toBeCloseTo(sign * Math.sin(angle), 6);
      }
    }
  });

  it('keeps each pair’s norm and leaves unrotated channels bit-identical (seeded random heads)', () => {
    const rng = new SeededRandom(7);
    const [tokens, heads] = [5, 3];
    for (const [style, headDim, dims] of cases) {
      const { pairs, unrotated } = ropePairs(headDim, { style, dims });
      const x = rng.normalArray(tokens * heads * headDim);
      const y = applyRope(x.slice(), tokens, heads, headDim, 11, { theta: 500000, dims, style });
      for (let o = 0; o < x.length; o += headDim) {
        for (const j of unrotated) expect(y[o + j]).toBe(x[o + j]);
        for (const [re, im] of pairs)
          expect(Math.hypot(y[o + re]!, y[o + im]!)).toBeCloseTo(Math.hypot(x[o + re]!, x[o + im]!), 5);
      }
    }
  });

  it('keeps its own dims error and rejects an unknown style', () => {
    const x = new Float32Array(8);
    expect(() => applyRope(x, 1, 1, 8, 0, { theta: 1e4, dims: 5, style: 'neox' })).toThrow(
      /rope: dims must be even and ≤ headDim \(8\), got 5/,
    );
    expect(() => applyRope(x, 1, 1, 8, 0, { theta: 1e4, dims: 8, style: 'gptj' as 'neox' })).toThrow(
      InvalidArgumentError,
    );
  });
});
