import { defaultClientConditions, defineConfig } from "vite"

// The page is served by the daemon under a strict Content-Security-Policy: no inline
// script or style may end up in index.html, so Vite's modulepreload polyfill (an inline
// helper in some setups) is off and CSS goes to its own file.
export default defineConfig({
  resolve: {
    // Workspace packages from source, as the tests and type checks read them.
    conditions: ["@save-dweb/source", ...defaultClientConditions],
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    assetsInlineLimit: 0,
    target: "es2022",
  },
})
