#!/usr/bin/env node
// The built CLI (`pnpm build` or `turbo run build` first).
import "../dist/main.js"
