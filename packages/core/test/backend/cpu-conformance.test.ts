import { expect, it } from 'vitest';
import { createCpuBackend, selectBackend } from '../../src/index.js';
import { runConformance } from '../../src/testing/index.js';

// The CPU reference against itself proves the suite runs end to end; other backends call the same function.
runConformance(async () => createCpuBackend());

it('selectBackend("cpu") and "auto" find the CPU backend', async () => {
  expect((await selectBackend('cpu')).name).toBe('cpu');
  expect((await selectBackend('auto')).name).toBeTypeOf('string');
  await expect(selectBackend(['cuda'])).rejects.toThrow(/cuda: not registered/);
});

it('the CPU linear and attention match float64 oracles', async () => {
  const { SeededRandom } = await import('../../src/index.js');
  const { relL2 } = await import('../../src/testing/index.js');
  const rng = new SeededRandom(77);
  const cpu = createCpuBackend();
  const [rows, inDim, outDim] = [5, 37, 11];
  const x = rng.normalArray(rows * inDim);
  const w = rng.normalArray(outDim * inDim);
  const b = rng.normalArray(outDim);
  const ref = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < outDim; o++) {
      let s = b[o]!;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i]! * w[o * inDim + i]!;
      ref[r * outDim + o] = s;
    }
  expect(relL2(await cpu.linear(x, rows, w, inDim, outDim, b), ref)).toBeLessThan(1e-6);
  // one query over 3 keys, one head: softmax weights by hand
  const q = Float32Array.from({ length: 4 }, (_, i) => i * 0.5);
  const k = rng.normalArray(12);
  const v = rng.normalArray(12);
  const s = [0, 1, 2].map(
    (j) => (q[0]! * k[j * 4]! + q[1]! * k[j * 4 + 1]! + q[2]! * k[j * 4 + 2]! + q[3]! * k[j * 4 + 3]!) / 2,
  );
  const m = Math.max(...s);
  const e = s.map((z) => Math.exp(z - m));
  const z = e.reduce((a, c) => a + c, 0);
  const want = [0, 1, 2, 3].map((d) => e.reduce((acc, p, j) => acc + (p / z) * v[j * 4 + d]!, 0));
  const got = await cpu.attention({
    query: q,
    qTokens: 1,
    queryHeads: 1,
    kvHeads: 1,
    headDim: 4,
    qStart: 2,
    segments: [{ kind: 'dense', tokens: 3, keys: k, values: v }],
  });
  expect(relL2(got, want)).toBeLessThan(1e-6);
});
