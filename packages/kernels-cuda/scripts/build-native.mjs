#!/usr/bin/env node
// Builds build/Release/kvq_cuda.node: nvcc for sm_80/86/89/90 + compute_90 PTX, g++ link with static
// cudart (CUDA resolves lazily, so the addon loads on machines without a driver). Skips the build when
// a prebuilt binary is newer than every source, or when KVQ_CUDA_SKIP_BUILD=1.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const native = join(root, 'native');
const out = join(root, 'build', 'Release');
const target = join(out, 'kvq_cuda.node');
const sources = readdirSync(native).filter((f) => /\.(cu|cc|h|cuh)$/.test(f));
const newest = Math.max(
  ...sources.map((f) => statSync(join(native, f)).mtimeMs),
  statSync(import.meta.filename).mtimeMs,
);
if (process.env.KVQ_CUDA_SKIP_BUILD === '1') process.exit(0);
if (existsSync(target) && statSync(target).mtimeMs > newest && !process.argv.includes('--force')) {
  console.log(`kvq_cuda.node is up to date (${target})`);
  process.exit(0);
}
const nvcc = process.env.NVCC ?? 'nvcc';
try {
  execFileSync(nvcc, ['--version'], { stdio: 'ignore' });
} catch {
  console.error(
    'kernels-cuda: nvcc not found; set NVCC or put the CUDA toolkit on PATH (the package works without the addon and reports CUDA unavailable)',
  );
  process.exit(process.env.KVQ_CUDA_REQUIRE_BUILD === '1' ? 1 : 0);
}
mkdirSync(join(out, 'obj'), { recursive: true });
const arches = (process.env.KVQ_CUDA_ARCHS ?? '80,86,89,90').split(',');
const gencode = arches.flatMap((a) => ['-gencode', `arch=compute_${a},code=sm_${a}`]);
gencode.push('-gencode', 'arch=compute_90,code=compute_90');
// KVQ_NVCC_FLAGS: extra nvcc arguments, space-separated (e.g. kernel variants: -DKVQ_STAGES=3)
const extra = (process.env.KVQ_NVCC_FLAGS ?? '').split(' ').filter(Boolean);
const cudaCandidates = [
  process.env.CUDA_HOME,
  process.env.CUDA_PATH,
  dirname(dirname(realpathSync(execFileSync('which', [nvcc]).toString().trim()))),
  '/usr/local/cuda',
].filter(Boolean);
const libDirs = cudaCandidates
  .flatMap((c) => ['lib64', 'lib', 'targets/x86_64-linux/lib'].map((l) => join(c, l)))
  .filter((d) => existsSync(join(d, 'libcudart_static.a')));
if (libDirs.length === 0)
  throw new Error(`libcudart_static.a not found under ${cudaCandidates.join(', ')} (set CUDA_HOME)`);
const require = createRequire(import.meta.url);
const napiInclude = dirname(require.resolve('node-addon-api/napi.h'));
const nodeInclude = process.env.NODE_INCLUDE ?? join(dirname(dirname(process.execPath)), 'include', 'node');
const objs = [];
const run = (cmd, args) => {
  console.log([cmd, ...args].join(' '));
  execFileSync(cmd, args, { stdio: 'inherit' });
};
// compile the .cu files in parallel (2 at a time: CI has 2 cores)
const cus = sources.filter((f) => f.endsWith('.cu'));
const { spawn } = await import('node:child_process');
const compile = (f) =>
  new Promise((resolve, reject) => {
    const o = join(out, 'obj', `${f}.o`);
    objs.push(o);
    const args = [
      '-O3',
      '-std=c++17',
      '-Xcompiler',
      '-fPIC',
      ...gencode,
      ...extra,
      '-c',
      join(native, f),
      '-o',
      o,
    ];
    console.log([nvcc, ...args].join(' '));
    const p = spawn(nvcc, args, { stdio: 'inherit' });
    p.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`nvcc failed on ${f}`))));
  });
const queue = [...cus];
const jobs = Number(process.env.KVQ_CUDA_JOBS ?? 2);
await Promise.all(
  Array.from({ length: jobs }, async () => {
    while (queue.length) await compile(queue.shift());
  }),
);
const addonObj = join(out, 'obj', 'addon.o');
run('g++', [
  '-O2',
  '-std=c++17',
  '-fPIC',
  '-DNAPI_VERSION=8',
  '-DNAPI_CPP_EXCEPTIONS',
  '-fexceptions',
  '-DNODE_ADDON_API_DISABLE_DEPRECATED',
  `-I${napiInclude}`,
  `-I${nodeInclude}`,
  '-c',
  join(native, 'addon.cc'),
  '-o',
  addonObj,
]);
run('g++', [
  '-shared',
  '-o',
  target,
  addonObj,
  ...objs,
  `-L${libDirs[0]}`,
  '-l:libcudart_static.a',
  '-ldl',
  '-lpthread',
  '-lrt',
  '-static-libstdc++',
]);
console.log(`built ${target}`);
