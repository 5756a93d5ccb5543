import { SeededRandom } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { probe, relErr, sharedBackend, title } from './gpu.js';

const p = await probe();

describe.skipIf(!p.ok)(title('dense ops vs fp64 references', p), () => {
  it.each([
    [1, 8, 3, true],
    [5, 70, 67, false],
    [65, 33, 130, true],
  ])('linear rows=%i in=%i out=%i bias=%s', async (rows, inDim, outDim, hasBias) => {
    const b = await sharedBackend();
    const r = new SeededRandom(rows + inDim);
    const x = r.normalArray(rows * inDim);
    const w = r.normalArray(outDim * inDim);
    const bias = hasBias ? r.normalArray(outDim) : undefined;
    const y = await b.linear(x, rows, w, inDim, outDim, bias);
    const ref = new Float64Array(rows * outDim);
    for (let i = 0; i < rows; i++)
      for (let o = 0; o < outDim; o++) {
        let acc = bias ? bias[o]! : 0;
        for (let k = 0; k < inDim; k++) acc += x[i * inDim + k]! * w[o * inDim + k]!;
        ref[i * outDim + o] = acc;
      }
    expect(relErr(y, ref)).toBeLessThan(1e-5);
  });

  it('rmsNorm', async () => {
    const b = await sharedBackend();
    const r = new SeededRandom(3);
    const rows = 3;
    const dim = 200;
    const x = r.normalArray(rows * dim, 0.5, 3);
    const w = r.normalArray(dim);
    const y = await b.rmsNorm(x, rows, dim, w, 1e-5);
    const ref = new Float64Array(rows * dim);
    for (let i = 0; i < rows; i++) {
      let ss = 0;
      for (let j = 0; j < dim; j++) ss += x[i * dim + j]! ** 2;
      const inv = 1 / Math.sqrt(ss / dim + 1e-5);
      for (let j = 0; j < dim; j++) ref[i * dim + j] = x[i * dim + j]! * inv * w[j]!;
    }
    expect(relErr(y, ref)).toBeLessThan(1e-5);
  });

  it('swiglu', async () => {
    const b = await sharedBackend();
    const r = new SeededRandom(4);
    const g = r.normalArray(1000, 0, 4);
    const u = r.normalArray(1000);
    const y = await b.swiglu(g, u);
    const ref = Array.from(g, (v, i) => (v / (1 + Math.exp(-v))) * u[i]!);
    expect(relErr(y, ref)).toBeLessThan(1e-5);
  });

  for (const style of ['interleaved', 'neox'] as const) {
    it(`rope ${style}: matches cos/sin rotation at large positions, inverse undoes it`, async () => {
      const b = await sharedBackend();
      const r = new SeededRandom(5);
      const tokens = 3;
      const heads = 2;
      const D = 16;
      const cfg = { theta: 500000, dims: 12, style, scale: 2 };
      const x = r.normalArray(tokens * heads * D);
      const pos = Int32Array.from([0, 7, 131071]);
      const y = await b.rope(x, tokens, heads, D, pos, cfg);
      const ref = new Float64Array(x);
      const half = cfg.dims / 2;
      for (let t = 0; t < tokens; t++)
        for (let h = 0; h < heads; h++)
          for (let i = 0; i < half; i++) {
            const ang = (pos[t]! / cfg.scale) * cfg.theta ** ((-2 * i) / cfg.dims);
            const base = (t * heads + h) * D;
            const [a, bb] =
              style === 'interleaved' ? [base + 2 * i, base + 2 * i + 1] : [base + i, base + i + half];
            ref[a] = x[a]! * Math.cos(ang) - x[bb]! * Math.sin(ang);
            ref[bb] = x[a]! * Math.sin(ang) + x[bb]! * Math.cos(ang);
          }
      expect(relErr(y, ref)).toBeLessThan(1e-5);
      const back = await b.rope(y, tokens, heads, D, pos, cfg, true);
      expect(relErr(back, x)).toBeLessThan(1e-5);
    });
  }
});
