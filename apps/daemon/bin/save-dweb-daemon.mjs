#!/usr/bin/env node
// The built daemon (`pnpm build` or `turbo run build` first). It first takes the settings
// for moving files that only a fresh process can take (README, Memory): V8's young
// generation capped, by replacing itself (same pid) with a process that has it.
import { reexecForTransfers } from "@save-dweb/backend/process-settings"

reexecForTransfers()
await import("../dist/main.js")
