#!/usr/bin/env node
// In a checkout: the TypeScript source, run directly (Node >= 22.18 strips types), so the
// wrapper works before anything is built. Installed from a registry: the built code (Node
// does not strip types under node_modules).
const installed = import.meta.url.includes("/node_modules/")
await import(installed ? "../dist/cli.js" : "../src/cli.ts")
