// Builds the web UI into the Python package (api/ui_static), served by api/webui.py at /ui/.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/ui/",
  publicDir: "public",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "../api/ui_static",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
    // No inline <script>/<style> in index.html: the CSP allows scripts from 'self' only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
