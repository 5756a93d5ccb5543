import { DisposedError, SeededRandom, ShapeError } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { ArrayKVCache, RopeTable, chunkAttention } from '../src/index.js';

const layout = { layers: 2, queryHeads: 4, kvHeads: 2, headDim: 8 };
const rope = { theta: 10000, dims: 8, style: 'interleaved' as const };

function filled(seed: number, tokens: number): ArrayKVCache {
  const rng = new SeededRandom(seed);
  const c = new ArrayKVCache(layout, rope);
  for (let l = 0; l < 2; l++) c.append(l, rng.normalArray(tokens * 16), rng.normalArray(tokens * 16), tokens);
  return c;
}

describe('ArrayKVCache', () => {
  it('stores and returns exactly what was appended, across growth', () => {
    const rng = new SeededRandom(1);
    const c = new ArrayKVCache(layout);
    const ks: Float32Array[] = [];
    for (let i = 0; i < 20; i++) {
      const k = rng.normalArray(3 * 16);
      ks.push(k);
      c.append(0, k, k, 3);
      c.append(1, k, k, 3);
    }
    expect(c.length).toBe(60);
    const all = new Float32Array(60 * 16);
    ks.forEach((k, i) => all.set(k, i * 48));
    expect(c.reconstruct(1).keys).toEqual(all);
    expect(c.stats()).toMatchObject({
      tokens: 60,
      values: 60 * 2 * 16 * 2,
      bitsPerValue: 32,
      bytes: 60 * 2 * 16 * 2 * 4,
    });
  });

  it('attention applies RoPE to the stored pre-RoPE keys', () => {
    const c = filled(2, 10);
    const rng = new SeededRandom(3);
    const q = rng.normalArray(2 * 4 * 8);
    const out = c.attention(1, q, 2, 8);
    const { keys, values } = c.reconstruct(1);
    new RopeTable(rope, 8).apply(keys, 10, 2, 0);
    const ref = chunkAttention({
      query: q,
      qTokens: 2,
      queryHeads: 4,
      kvHeads: 2,
      headDim: 8,
      keys,
      values,
      kTokens: 10,
    });
    expect(out).toEqual(ref);
  });

  it('truncates, forks independently and round-trips through serialize', () => {
    const c = filled(4, 12);
    const f = c.fork();
    c.truncate(5);
    expect(c.length).toBe(5);
    expect(f.length).toBe(12);
    const back = ArrayKVCache.deserialize(f.serialize(), rope);
    expect(back.reconstruct(0)).toEqual(f.reconstruct(0));
    expect(back.reconstruct(1)).toEqual(f.reconstruct(1));
    expect(() => ArrayKVCache.deserialize(f.serialize().subarray(0, 100))).toThrow(
      /expected \d+ bytes, got 100/,
    );
  });

  it('rejects bad shapes and use after dispose', () => {
    const c = new ArrayKVCache(layout);
    expect(() => c.append(0, new Float32Array(15), new Float32Array(16), 1)).toThrow(ShapeError);
    expect(() => c.append(2, new Float32Array(16), new Float32Array(16), 1)).toThrow(
      /layer 2 is outside 0\.\.1/,
    );
    c.dispose();
    c.dispose();
    expect(() => c.length).toThrow(DisposedError);
  });
});

describe('chunkAttention', () => {
  it('matches a direct softmax(q·kᵀ/√d)·v for one query with GQA', () => {
    const rng = new SeededRandom(5);
    const keys = rng.normalArray(6 * 2 * 4);
    const values = rng.normalArray(6 * 2 * 4);
    const query = rng.normalArray(1 * 4 * 4);
    const out = chunkAttention({
      query,
      qTokens: 1,
      queryHeads: 4,
      kvHeads: 2,
      headDim: 4,
      keys,
      values,
      kTokens: 6,
    });
    for (let h = 0; h < 4; h++) {
      const g = h >> 1;
      const s = Array.from({ length: 6 }, (_, j) => {
        let d = 0;
        for (let i = 0; i < 4; i++) d += query[h * 4 + i]! * keys[(j * 2 + g) * 4 + i]!;
        return Math.exp(d / 2);
      });
      const z = s.reduce((a, b) => a + b, 0);
      for (let i = 0; i < 4; i++) {
        const v = s.reduce((a, p, j) => a + (p / z) * values[(j * 2 + g) * 4 + i]!, 0);
        expect(out[h * 4 + i]).toBeCloseTo(v, 5);
      }
    }
  });
});
