#!/usr/bin/env node
// The built server (`pnpm build` or `turbo run build` first). From a checkout without a
// build: `node --conditions=@save-dweb/source apps/backup-server/src/main.ts`.
import "../dist/main.js"
