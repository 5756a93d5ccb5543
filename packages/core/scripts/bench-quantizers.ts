/**
 * Encode / decode throughput of every quantizer (CPU reference), in millions of values per
 * second and MB/s of fp16 input (2 bytes per value), on a block of 128 tokens × 8 heads × 128.
 * Not a test. Run from packages/core with any TS runner, e.g. the vite-node that vitest brings:
 *   node ../../node_modules/.pnpm/vite-node@3.2.4_@types+node@20.19.43/node_modules/vite-node/vite-node.mjs scripts/bench-quantizers.ts

 */
import { SeededRandom, createQuantizer, quantizerLabel } from '../src/index.js';
import type { QuantizerSpec } from '../src/index.js';

const specs: QuantizerSpec[] = [
  { kind: 'fp16' },
  { kind: 'bf16' },
  { kind: 'fp8', format: 'e4m3' },
  { kind: 'uniform', bits: 2, axis: 'channel', groupSize: 128 },
  { kind: 'uniform', bits: 4, axis: 'token', groupSize: 128 },
  { kind: 'codebook', bits: 3, axis: 'token', groupSize: 128, norm: 'rms' },
  { kind: 'higgs', bits: 2, dim: 1, block: 128, seed: 1 },
  { kind: 'higgs', bits: 2, dim: 2, block: 128, seed: 1 },
  { kind: 'higgs', bits: 3, dim: 2, block: 128, seed: 1 },
  {
    kind: 'outliers',
    axis: 'token',
    count: 4,
    inner: { kind: 'uniform', bits: 2, axis: 'token', groupSize: 128 },
  },
];
const shape = { tokens: 128, kvHeads: 8, headDim: 128 };
const n = 128 * 8 * 128;
const x = new SeededRandom(1).normalArray(n);
const out = new Float32Array(n);

function time(fn: () => void, minMs = 400): number {
  fn();
  let reps = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    fn();
    reps++;
    t = performance.now();
  }
  return (t - t0) / reps / 1000;
}

console.log(
  `block [${shape.tokens}, ${shape.kvHeads}, ${shape.headDim}] = ${n} values; Node ${process.version}`,
);
console.log('quantizer              bits/val  encode Mval/s (MB/s fp16)  decode Mval/s (MB/s fp16)');
for (const spec of specs) {
  const q = createQuantizer(spec);
  const enc = q.encode(x, shape);
  const te = time(() => q.encode(x, shape));
  const td = time(() => q.decode(enc, out));
  const f = (s: number) =>
    `${(n / s / 1e6).toFixed(1).padStart(7)} (${((2 * n) / s / 1e6).toFixed(0).padStart(5)})`;
  console.log(
    `${quantizerLabel(spec).padEnd(22)} ${q.bitsPerValue(shape).toFixed(4).padStart(8)}  ${f(te).padEnd(26)} ${f(td)}`,
  );
}
