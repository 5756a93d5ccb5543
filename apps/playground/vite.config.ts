import { defineConfig } from 'vite';
import { kvqSharedAssets } from './server/shared-assets.js';

export default defineConfig({
  plugins: [kvqSharedAssets()],
  worker: { format: 'es' },
  // keep class names in the bundle: the page shows typed errors by name (CorruptFileError, ...)
  esbuild: { keepNames: true },
  build: { target: 'es2022', chunkSizeWarningLimit: 2000 },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
