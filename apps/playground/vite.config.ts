import { defineConfig } from 'vite';
import { kvqSharedAssets } from './server/shared-assets.js';

export default defineConfig({
  plugins: [kvqSharedAssets()],
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 2000 },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
