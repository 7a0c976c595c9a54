import { spawn } from "node:child_process"
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { type DaemonState, isAlive, readState } from "@save-dweb/daemon"
import { Data, Effect } from "effect"

export class DaemonNotRunning extends Data.TaggedError("DaemonNotRunning")<{
  readonly dataDir: string
}> {
  override get message() {
    return `no daemon is running on ${this.dataDir}; start one with \`save-dweb daemon start\``
  }
}

export class DaemonStartFailed extends Data.TaggedError("DaemonStartFailed")<{
  readonly message: string
  readonly log: string
}> {}

export class DaemonStopFailed extends Data.TaggedError("DaemonStopFailed")<{
  readonly message: string
}> {}

/** The running daemon's state on `dataDir`, if its process is alive. */
export const runningDaemon = (dataDir: string): DaemonState | undefined => {
  const state = readState(dataDir)
  return state !== undefined && isAlive(state.pid) ? state : undefined
}

/** The built daemon's entry script, beside the installed `@save-dweb/daemon` package. */
export const daemonScript = (): string => {
  const require = createRequire(import.meta.url)
  const pkg = require.resolve("@save-dweb/daemon/package.json")
  return join(dirname(pkg), "bin", "save-dweb-daemon.mjs")
}

const logTail = (file: string, lines = 20) => {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n")
  } catch {
    return ""
  }
}

export interface StartOptions {
  readonly dataDir: string
  /** Further daemon flags, passed as they are (`--listen`, `--network`, ...). */
  readonly flags: ReadonlyArray<string>
  readonly timeoutMillis: number
}

/**
 * Starts `save-dweb-daemon` in the background on `dataDir` (its logs appended to
 * `dataDir/daemon.log`) and waits until it listens. A daemon already running there is
 * returned as it is.
 */
export const startDaemon = (options: StartOptions) =>
  Effect.gen(function* () {
    const running = runningDaemon(options.dataDir)
    if (running !== undefined)
      return { state: running, started: false, log: join(options.dataDir, "daemon.log") }
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 })
    const log = join(options.dataDir, "daemon.log")
    const fd = openSync(log, "a", 0o600)
    const child = spawn(
      process.execPath,
      [daemonScript(), "--data-dir", options.dataDir, ...options.flags],
      { detached: true, stdio: ["ignore", fd, fd], env: process.env },
    )
    closeSync(fd)
    let exited: number | null | undefined
    child.once("exit", (code) => {
      exited = code
    })
    child.unref()
    const deadline = Date.now() + options.timeoutMillis
    while (true) {
      const state = readState(options.dataDir)
      if (state !== undefined && state.pid === child.pid) return { state, started: true, log }
      if (exited !== undefined)
        return yield* new DaemonStartFailed({
          message: `the daemon exited with code ${exited} before it was ready`,
          log: logTail(log),
        })
      if (Date.now() > deadline) {
        if (child.pid !== undefined) process.kill(child.pid, "SIGTERM")
        return yield* new DaemonStartFailed({
          message: `the daemon was not ready after ${options.timeoutMillis / 1000} s`,
          log: logTail(log),
        })
      }
      yield* Effect.sleep(100)
    }
  })

/** Stops the daemon on `dataDir` gracefully (SIGTERM) and waits for its process to end. */
export const stopDaemon = (dataDir: string, timeoutMillis: number) =>
  Effect.gen(function* () {
    const running = runningDaemon(dataDir)
    if (running === undefined) return { stopped: false as const }
    process.kill(running.pid, "SIGTERM")
    const deadline = Date.now() + timeoutMillis
    while (isAlive(running.pid)) {
      if (Date.now() > deadline)
        return yield* new DaemonStopFailed({
          message: `pid ${running.pid} still runs after ${timeoutMillis / 1000} s; see ${join(dataDir, "daemon.log")}`,
        })
      yield* Effect.sleep(100)
    }
    return { stopped: true as const, pid: running.pid }
  })

/** Where the daemon on `dataDir` listens and its token, as the CLI connects to it. */
export const connectionOf = (dataDir: string) =>
  Effect.gen(function* () {
    const state = runningDaemon(dataDir)
    if (state === undefined) return yield* new DaemonNotRunning({ dataDir })
    const tokenFile = join(dataDir, "rpc-token")
    const token = existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : undefined
    return { url: state.url, token }
  })
