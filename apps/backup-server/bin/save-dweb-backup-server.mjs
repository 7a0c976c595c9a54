#!/usr/bin/env node
// The built server (`pnpm build` or `turbo run build` first). From a checkout without a
// build: `node --conditions=@save-dweb/source apps/backup-server/src/main.ts`. It first
// takes the settings for moving files that only a fresh process can take (the daemon's
// README, Memory): V8's young generation capped, by replacing itself (same pid).
import { reexecForTransfers } from "@save-dweb/backend/process-settings"

reexecForTransfers()
await import("../dist/main.js")
