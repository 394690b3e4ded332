// Builds the web wall into web/dist, which the gateway serves at "/".
// `npm run dev:web` serves it with hot reload and forwards /api and /media to a gateway on SE_DEV_GATEWAY.
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';
import { fileURLToPath } from 'node:url';

const gateway = process.env.SE_DEV_GATEWAY ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [vue()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // hls.js is most of the bundle and changes rarely: its own chunk caches across UI releases.
    rollupOptions: { output: { manualChunks: (id) => (id.includes('node_modules/hls.js') ? 'hls' : undefined) } },
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/api': { target: gateway, ws: true },
      '/media': gateway,
      '/healthz': gateway,
    },
  },
});
