import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', decoder: 'src/decoder.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'node',
});
