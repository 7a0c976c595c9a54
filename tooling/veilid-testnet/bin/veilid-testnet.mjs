#!/usr/bin/env node
// Runs the TypeScript source directly (Node >= 22.18 strips types), so the
// wrapper works before anything is built.
import "../src/cli.ts"
