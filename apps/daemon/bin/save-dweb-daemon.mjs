#!/usr/bin/env node
// The built daemon (`pnpm build` or `turbo run build` first).
import "../dist/main.js"
