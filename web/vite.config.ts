import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// In development the browser talks to Vite, which forwards the BFF's routes; in production the
// BFF serves dist/ itself, so page, /bff and /mcp share one origin either way.
const bffUrl = process.env.BFF_URL ?? 'http://localhost:3000';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // Read by scripts/bundle-size.mjs, which measures the first page's JS against the budget.
    manifest: true,
  },
  server: {
    proxy: {
      '/bff': { target: bffUrl },
      '/mcp': { target: bffUrl },
    },
  },
});
