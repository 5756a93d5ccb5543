import { SeededRandom } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { NormalEquations, applyLinear, cholesky, choleskySolve, solveRidge } from '../src/ridge.js';

describe('cholesky', () => {
  it('solves a random SPD system to 1e-9', () => {
    const rng = new SeededRandom(7);
    const n = 12;
    const m = new Float64Array(n * n);
    for (let i = 0; i < n * n; i++) m[i] = rng.normal();
    const a = new Float64Array(n * n); // a = mᵀm + n·I
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = i === j ? n : 0;
        for (let k = 0; k < n; k++) s += m[k * n + i]! * m[k * n + j]!;
        a[i * n + j] = s;
      }
    const x = Float64Array.from({ length: n }, () => rng.normal());
    const b = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) b[i]! += a[i * n + j]! * x[j]!;
    const sol = choleskySolve(cholesky(a, n), n, b, 1);
    for (let i = 0; i < n; i++) expect(Math.abs(sol[i]! - x[i]!)).toBeLessThan(1e-9);
  });

  it('rejects a matrix that is not positive definite', () => {
    expect(() => cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(/positive definite/);
  });
});

describe('ridge regression', () => {
  it('recovers a planted linear relation with bias', () => {
    const rng = new SeededRandom(42);
    const inDim = 16;
    const outDim = 8;
    const rows = 4000;
    const w = rng.normalArray(outDim * inDim);
    const b = rng.normalArray(outDim);
    const x = rng.normalArray(rows * inDim);
    const y = applyLinear({ weight: w, bias: b }, x, rows, inDim);
    for (let i = 0; i < y.length; i++) y[i]! += 0.01 * rng.normal();
    const eq = new NormalEquations(inDim, outDim);
    // streamed in two halves: the accumulation must equal one pass
    eq.add(x.subarray(0, 2000 * inDim), y.subarray(0, 2000 * outDim), 2000);
    eq.add(x.subarray(2000 * inDim), y.subarray(2000 * outDim), 2000);
    const fit = solveRidge(eq, 1e-6);
    for (let i = 0; i < w.length; i++) expect(Math.abs(fit.weight[i]! - w[i]!)).toBeLessThan(5e-3);
    for (let i = 0; i < b.length; i++) expect(Math.abs(fit.bias[i]! - b[i]!)).toBeLessThan(5e-3);
  });

  it('shrinks weights as λ grows', () => {
    const rng = new SeededRandom(3);
    const x = rng.normalArray(500 * 4);
    const y = applyLinear(
      { weight: Float32Array.from([1, -2, 3, 0.5]), bias: new Float32Array(1) },
      x,
      500,
      4,
    );
    const norm = (s: number) => {
      const eq = new NormalEquations(4, 1);
      eq.add(x, y, 500);
      const f = solveRidge(eq, s);
      return Math.hypot(...f.weight);
    };
    expect(norm(10)).toBeLessThan(norm(1e-3));
  });

  it('names the shape when inputs do not match', () => {
    const eq = new NormalEquations(4, 2);
    expect(() => eq.add(new Float32Array(8), new Float32Array(3), 2)).toThrow(
      /expected x \[2, 4\] and y \[2, 2\]/,
    );
  });
});
