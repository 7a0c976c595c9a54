// Temp dirs for tests and benches that fill them with data dirs (a GiB upload, a daemon's
// stores): removed when the process that made them exits, so runs do not fill the disk.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const made: Array<string> = []

const removeAll = () => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** A new directory under the system's temp dir, removed when this process exits. */
export const tempDirRemovedAtExit = (prefix: string): string => {
  if (made.length === 0) process.once("exit", removeAll)
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}
