import { defineConfig } from 'vitest/config';
import preact from '@preact/preset-vite';

// The server to proxy to in `npm run dev` (a running `cairn server`).
const target = process.env.CAIRN_URL ?? 'http://127.0.0.1:5000';
const proxied = ['/api', '/ajax-api', '/serve', '/get-artifact', '/health', '/version'];

export default defineConfig({
  plugins: [preact()],
  build: {
    // internal/web/ui embeds this folder into the cairn binary (git-ignored).
    outDir: '../../internal/web/ui/dist/app',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 400,
    sourcemap: false,
  },
  server: {
    proxy: Object.fromEntries(proxied.map((p) => [p, { target, changeOrigin: true }])),
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test-setup.ts'],
  },
});
