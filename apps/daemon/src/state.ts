import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"

/**
 * What a running daemon leaves in its data dir for the CLI: how to reach it and which
 * process it is. Written once it listens, removed when it has stopped.
 */
export interface DaemonState {
  readonly pid: number
  /** `http://127.0.0.1:7575` or `unix:/path/to.sock`. */
  readonly url: string
  readonly startedAt: string
  readonly version: string
}

export const STATE_FILE = "daemon.json"

export const statePath = (dataDir: string) => join(dataDir, STATE_FILE)

export const ensureDataDir = (dataDir: string) => {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  chmodSync(dataDir, 0o700)
}

export const writeState = (dataDir: string, state: DaemonState) => {
  const tmp = `${statePath(dataDir)}.${process.pid}.tmp`
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
  renameSync(tmp, statePath(dataDir))
}

export const readState = (dataDir: string): DaemonState | undefined => {
  try {
    const parsed = JSON.parse(readFileSync(statePath(dataDir), "utf8")) as DaemonState
    return typeof parsed.pid === "number" && typeof parsed.url === "string" ? parsed : undefined
  } catch {
    return undefined
  }
}

/** Removes the state file if it is this process's. */
export const clearState = (dataDir: string, pid = process.pid) => {
  if (readState(dataDir)?.pid === pid) rmSync(statePath(dataDir), { force: true })
}
