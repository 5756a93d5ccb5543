import { SeededRandom } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import { WasmMatmul, matmulTransposed } from '../src/index.js';

function reference(
  x: Float32Array,
  rows: number,
  w: Float32Array,
  n: number,
  out: number,
  bias?: Float32Array,
) {
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let a = bias ? bias[o]! : 0;
      for (let i = 0; i < n; i++) a += x[r * n + i]! * w[o * n + i]!;
      y[r * out + o] = a;
    }
  }
  return y;
}

function maxRelErr(got: Float32Array, ref: Float64Array): number {
  let m = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    m = Math.max(m, Math.abs(got[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return m / scale;
}

const SHAPES: [number, number, number][] = [
  [1, 64, 4],
  [2, 8, 8],
  [3, 172, 67],
  [32, 512, 128],
  [33, 64, 1031],
  [7, 20, 5],
];

describe('matmul kernels (y = x·wᵀ + b)', () => {
  it('JavaScript tiled kernel matches a float64 reference on odd shapes', () => {
    const rng = new SeededRandom(21);
    for (const [rows, n, out] of SHAPES) {
      const x = rng.normalArray(rows * n);
      const w = rng.normalArray(out * n);
      const b = rng.normalArray(out);
      expect(
        maxRelErr(matmulTransposed(x, rows, w, n, out, b), reference(x, rows, w, n, out, b)),
      ).toBeLessThan(1e-6);
    }
  });

  it.runIf(WasmMatmul.available())(
    'WebAssembly SIMD kernel matches it, weights inside or outside its memory',
    () => {
      const rng = new SeededRandom(22);
      const k = new WasmMatmul(1 << 20, 1 << 16);
      for (const [rows, n, out] of SHAPES) {
        const x = rng.normalArray(rows * n);
        const outside = rng.normalArray(out * n);
        const inside = k.allocWeights(out * n);
        inside.set(outside);
        expect(k.owns(inside)).toBe(true);
        const b = rng.normalArray(out);
        const ref = reference(x, rows, outside, n, out, b);
        expect(maxRelErr(k.matmul(x, rows, inside, n, out, b), ref), `${rows}x${n}x${out}`).toBeLessThan(
          1e-5,
        );
        expect(
          maxRelErr(k.matmul(x, rows, outside, n, out, b), ref),
          `${rows}x${n}x${out} copied`,
        ).toBeLessThan(1e-5);
      }
      // more rows than the scratch holds at once: processed in row blocks
      const x = rng.normalArray(300 * 64);
      const w = rng.normalArray(128 * 64);
      expect(maxRelErr(k.matmul(x, 300, w, 64, 128), reference(x, 300, w, 64, 128))).toBeLessThan(1e-5);
      expect(() => k.allocWeights(1 << 21)).toThrow(/weight capacity exhausted/);
    },
  );
});

describe('matmul-wasm.generated.ts', () => {
  it('is the compilation of matmul.wat (rebuild with node scripts/build-wasm.mjs)', async () => {
    const { readFileSync } = await import('node:fs');
    const { default: initWabt } = await import('wabt');
    const { MATMUL_WASM_BASE64 } = await import('../src/kernels/matmul-wasm.generated.js');
    const wabt = await initWabt();
    const wat = readFileSync(new URL('../src/kernels/matmul.wat', import.meta.url), 'utf8');
    const mod = wabt.parseWat('matmul.wat', wat, { simd: true });
    const bin = mod.toBinary({}).buffer;
    expect(Buffer.from(bin).toString('base64')).toBe(MATMUL_WASM_BASE64);
  });
});
