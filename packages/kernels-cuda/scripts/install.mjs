#!/usr/bin/env node
// npm install hook: use the shipped linux-x64 binary when present, otherwise build from source
// (needs nvcc); never fails the install — without the addon the package reports CUDA unavailable.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const prebuilt = [
  join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'kvq_cuda.node'),
  join(root, 'build', 'Release', 'kvq_cuda.node'),
];
if (prebuilt.some((p) => existsSync(p)) || process.platform !== 'linux' || process.arch !== 'x64')
  process.exit(0);
const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { stdio: 'inherit' });
if (r.status !== 0)
  console.warn(
    '@kvq/kernels-cuda: building the CUDA addon failed; the backend will report itself unavailable',
  );
