import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'testing/cases': 'src/testing/cases.ts',
    node: 'src/node.ts',
  },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  // keep 'node:fs' etc. as written: external and unambiguous in dist/node.js (the main entry has none)
  removeNodeProtocol: false,
  external: [/^node:/],
});
