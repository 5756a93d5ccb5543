#!/usr/bin/env node
// WebGPU vs CUDA decode attention on the same GPU, from the two benches' JSON written by one device
// call (same machine, same run):
//   node packages/kernels-cuda/bench/dist/run.mjs torch.json cuda.json
//   node .webgpu-bench/device.mjs --out webgpu.json
//   node scripts/gpu-compare.mjs cuda.json webgpu.json
// Pairs formats with the same bytes per value: fp16 ↔ fp16, kivi-2 (2-bit K/V, groups of 128,
// 2.25 bits/value) ↔ CUDA kivi-2/g128, k4v2 (4-bit K, 2-bit V, groups of 128, 3.25 bits) ↔ k4v2/g128,
// HIGGS residual pages (block 128): aqua-2.5 (K 2.5 / V 2 bits, 2.375 bits) ↔ 'aqua-2.5 pages',
// kvq-2's K2/V2 (2.125 bits) ↔ 'kvq-2 K2/V2 pages'. 'kivi-2 lane' is the original WebGPU kernel.
import { readFileSync } from 'node:fs';

const [cudaPath, webgpuPath] = process.argv.slice(2);
if (!cudaPath || !webgpuPath) {
  console.error('usage: node scripts/gpu-compare.mjs <cuda bench.json> <webgpu bench.json>');
  process.exit(2);
}
const cuda = JSON.parse(readFileSync(cudaPath, 'utf8'));
const webgpu = JSON.parse(readFileSync(webgpuPath, 'utf8'));
const pairs = [
  ['fp16', 'fp16'],
  ['kivi-2', 'kivi-2/g128'],
  ['kivi-2 lane', 'kivi-2/g128'],
  ['k4v2', 'k4v2/g128'],
  ['aqua-2.5', 'aqua-2.5 pages'],
  ['kvq-2 K2/V2', 'kvq-2 K2/V2 pages'],
  // packed-f16 arithmetic (DecodeAttention's default for large steps where the device has shader-f16)
  ['kivi-2 f16', 'kivi-2/g128'],
  ['k4v2 f16', 'k4v2/g128'],
  ['aqua-2.5 f16', 'aqua-2.5 pages'],
  ['kvq-2 K2/V2 f16', 'kvq-2 K2/V2 pages'],
  // the subgroup-private kernel (kernel: 'subgroup'), f32 and packed f16
  ['aqua-2.5 sg', 'aqua-2.5 pages'],
  ['kvq-2 K2/V2 sg', 'kvq-2 K2/V2 pages'],
  ['aqua-2.5 sg f16', 'aqua-2.5 pages'],
  ['kvq-2 K2/V2 sg f16', 'kvq-2 K2/V2 pages'],
];
const best = (method, B, T) => {
  const rows = webgpu.attention.filter((r) => r.method === method && r.batch === B && r.tokens === T && r.ms);
  return rows.length ? Math.min(...rows.map((r) => r.ms)) : undefined;
};
// the WebGPU bench times many dispatches in one submission (GPU back to back), so CUDA's side is its
// GPU-alone time (`gpuMs`, the call enqueued behind a busy kernel) where the CUDA bench recorded it
const cudaMs = (format, B, T) => {
  const r = cuda.attention.find((x) => x.format === format && x.B === B && x.ctx === T);
  return r?.gpuMs ?? r?.ms;
};
console.log(
  `device: ${cuda.device?.name ?? '?'} (CUDA) / ${webgpu.info?.device ?? '?'} (WebGPU), ${webgpu.info?.date ?? ''}`,
);
console.log('| K/V | bits/value | batch | context | WebGPU ms | CUDA ms | WebGPU ÷ CUDA |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [w, c] of pairs) {
  for (const B of [1, 16]) {
    for (const T of [4096, 32768]) {
      const a = best(w, B, T);
      const b = cudaMs(c, B, T);
      const bits = webgpu.attention.find((r) => r.method === w)?.bitsPerValue;
      const f = (x) => (x === undefined ? 'n/a' : x.toFixed(4));
      const ratio = a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}×` : 'n/a';
      console.log(`| ${w} | ${bits ?? '?'} | ${B} | ${T / 1024}k | ${f(a)} | ${f(b)} | ${ratio} |`);
    }
  }
}
