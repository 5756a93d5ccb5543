// Bundles bench/device.ts with @kvq/core inlined into <repo>/.webgpu-bench/device.mjs, and copies the
// `webgpu` package's linux-x64 binary beside it, so the GPU machine needs only Node.
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '../../../.webgpu-bench');
mkdirSync(outDir, { recursive: true });
await build({
  entry: {
    device: join(here, 'device.ts'),
    probe: join(here, 'probe.ts'),
    'pipeline-stats': join(here, 'pipeline-stats.ts'),
  },
  outDir,
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  bundle: true,
  noExternal: [/^@kvq\//, /^@petamoriken\//],
  external: ['webgpu'],
  outExtension: () => ({ js: '.mjs' }),
  splitting: false,
  sourcemap: false,
  dts: false,
  clean: false,
  silent: true,
});
const require = createRequire(join(here, '../package.json'));
const wg = dirname(require.resolve('webgpu/package.json'));
const dest = join(outDir, 'node_modules/webgpu');
mkdirSync(join(dest, 'dist'), { recursive: true });
for (const f of ['index.js', 'package.json']) cpSync(join(wg, f), join(dest, f));
cpSync(join(wg, 'dist/linux-x64'), join(dest, 'dist/linux-x64'), { recursive: true });
writeFileSync(join(outDir, 'README.txt'), 'Built by packages/kernels-webgpu/bench/build.mjs; not tracked.\n');
console.log(`bundled into ${outDir}`);
