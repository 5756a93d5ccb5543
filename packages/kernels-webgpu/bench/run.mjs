// `pnpm --filter @kvq/kernels-webgpu bench [-- --quick] [--sweep] [--out file.json]`: bundles the
// device benchmark (bench/build.mjs) and runs it with this Node. Needs a WebGPU adapter (Dawn).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const b = spawnSync(process.execPath, [join(here, 'build.mjs')], { stdio: 'inherit' });
if (b.status !== 0) process.exit(b.status ?? 1);
const r = spawnSync(
  process.execPath,
  [join(here, '../../../.webgpu-bench/device.mjs'), ...process.argv.slice(2)],
  {
    stdio: 'inherit',
  },
);
process.exit(r.status ?? 1);
