// The console is served by the hub at /console/ and embedded in the Go
// binary from internal/console/dist (committed; TestBuildIsCurrent guards it).
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/console/',
  build: {
    outDir: '../internal/console/dist',
    emptyOutDir: true,
    // No inline scripts or data: modules: the hub's CSP allows 'self' only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 3000,
    // Two pages: the console and the API explorer the hub serves at "/".
    rollupOptions: { input: { console: 'index.html', explorer: 'explorer.html' } },
    sourcemap: false,
  },
  server: {
    proxy: { '/query': { target: 'http://127.0.0.1:8080', ws: true }, '/console/dev-login': 'http://127.0.0.1:8080' },
  },
});
