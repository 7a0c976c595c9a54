#!/usr/bin/env node
// `save-dweb-daemon` from the CLI's package: the daemon this package depends on (the one
// `save-dweb daemon start` runs), so that `npm install -g @save-dweb/cli` puts both
// programs on PATH.
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"

const daemon = createRequire(import.meta.url).resolve("@save-dweb/daemon/package.json")
await import(pathToFileURL(join(dirname(daemon), "bin", "save-dweb-daemon.mjs")).href)
