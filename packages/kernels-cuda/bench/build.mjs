import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Bundles the GPU test runner and the bench (with @kvq/core inlined, `vitest` replaced by
// bench/vitest-shim.ts) into bench/dist, small enough to carry to the GPU machine.
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
await build({
  entryPoints: { 'gpu-tests': join(here, 'gpu-tests.ts'), run: join(here, 'run.ts') },
  outdir: join(here, 'dist'),
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  alias: { vitest: join(here, 'vitest-shim.ts') },
  ignoreAnnotations: true,
  logLevel: 'warning',
});
console.log('bench/dist built');
