import { spawn } from "node:child_process"
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs"
import { request } from "node:http"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { type DaemonState, dataDirHolder, type LockOwner, readState } from "@save-dweb/daemon"
import { Data, Effect, Option } from "effect"

export class DaemonNotRunning extends Data.TaggedError("DaemonNotRunning")<{
  readonly dataDir: string
  /** Set when a process holds the data dir but does not answer on its API yet. */
  readonly starting?: { readonly pid: number | undefined }
}> {
  override get message() {
    if (this.starting === undefined)
      return `no daemon is running on ${this.dataDir}; start one with \`save-dweb daemon start\``
    const pid = this.starting.pid === undefined ? "" : ` (pid ${this.starting.pid})`
    return `the daemon on ${this.dataDir}${pid} is still starting; \`save-dweb daemon start\` waits until it is ready`
  }
}

export class DaemonStartFailed extends Data.TaggedError("DaemonStartFailed")<{
  readonly message: string
  readonly log: string
}> {}

export class DaemonStopFailed extends Data.TaggedError("DaemonStopFailed")<{
  readonly message: string
}> {}

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

const tokenOf = (dataDir: string): string | undefined => {
  const tokenFile = join(dataDir, "rpc-token")
  return existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : undefined
}

const ANSWER_TIMEOUT_MILLIS = 3_000

/**
 * Asks `GET /v1/status` at a daemon URL with the data dir's token. `true` only for a 200:
 * a daemon that accepts this data dir's token is this data dir's daemon (the token is made
 * per data dir); nothing listening, another server, or a 401 is `false`.
 */
const answersWithToken = (url: string, token: string | undefined): Promise<boolean> =>
  new Promise((resolve) => {
    if (token === undefined) return resolve(false)
    const target = url.startsWith("unix:")
      ? { socketPath: url.slice("unix:".length) }
      : (() => {
          const parsed = new URL(url)
          return { host: parsed.hostname, port: Number(parsed.port || 80) }
        })()
    const req = request(
      {
        ...target,
        path: "/v1/status",
        headers: { authorization: `Bearer ${token}` },
        timeout: ANSWER_TIMEOUT_MILLIS,
      },
      (res) => {
        res.resume()
        resolve(res.statusCode === 200)
      },
    )
    req.on("timeout", () => req.destroy())
    req.on("error", () => resolve(false))
    req.end()
  })

/** What runs on a data dir, judged by the daemon's answer on its API and by the data dir's lock. */
export type DaemonProbe =
  | { readonly _tag: "Ready"; readonly state: DaemonState }
  /** A process holds the data dir but does not answer (attaching, or stuck). */
  | { readonly _tag: "Starting"; readonly owner: LockOwner | undefined }
  | { readonly _tag: "Stopped" }

export const probeDaemon = (dataDir: string): Effect.Effect<DaemonProbe> =>
  Effect.gen(function* () {
    const state = readState(dataDir)
    if (
      state !== undefined &&
      (yield* Effect.promise(() => answersWithToken(state.url, tokenOf(dataDir))))
    )
      return { _tag: "Ready", state } as const
    const holder = yield* dataDirHolder(dataDir).pipe(
      // Without the native addon the lock cannot be read: judge by the API alone.
      Effect.orElseSucceed(() => Option.none()),
    )
    return Option.isSome(holder)
      ? ({ _tag: "Starting", owner: holder.value } as const)
      : ({ _tag: "Stopped" } as const)
  })

export interface StartOptions {
  readonly dataDir: string
  /** Further daemon flags, passed as they are (`--listen`, `--network`, ...). */
  readonly flags: ReadonlyArray<string>
  readonly timeoutMillis: number
}

/** Exit code of `save-dweb-daemon` when another process holds the data dir. */
const DAEMON_EXIT_RUNNING = 3
const STOP_AFTER_GIVING_UP_MILLIS = 15_000

/** Waits until the process holding `dataDir` has gone (the kernel freed its lock). */
const awaitReleased = (dataDir: string, deadline: number) =>
  Effect.gen(function* () {
    while (Date.now() < deadline) {
      const probe = yield* probeDaemon(dataDir)
      if (probe._tag === "Stopped") return true
      yield* Effect.sleep(100)
    }
    return false
  })

const signal = (pid: number, name: NodeJS.Signals) => {
  try {
    process.kill(pid, name)
  } catch {}
}

/**
 * Starts `save-dweb-daemon` in the background on `dataDir` (its logs appended to
 * `dataDir/daemon.log`) and waits until it answers on its API. A daemon already answering
 * there is returned as it is; one still starting is waited for. A daemon this call started
 * and then gave up on is stopped (SIGTERM, then SIGKILL), never left running.
 */
export const startDaemon = (options: StartOptions) =>
  Effect.gen(function* () {
    const log = join(options.dataDir, "daemon.log")
    const deadline = Date.now() + options.timeoutMillis
    const awaitOther = (owner: LockOwner | undefined) =>
      Effect.gen(function* () {
        while (Date.now() < deadline) {
          const probe = yield* probeDaemon(options.dataDir)
          if (probe._tag === "Ready") return { state: probe.state, started: false, log }
          if (probe._tag === "Stopped") return undefined
          yield* Effect.sleep(200)
        }
        return yield* new DaemonStartFailed({
          message: `a daemon${owner === undefined ? "" : ` (pid ${owner.pid})`} holds ${options.dataDir} but was not ready after ${options.timeoutMillis / 1000} s; stop it with \`save-dweb daemon stop\``,
          log: logTail(log),
        })
      })
    const first = yield* probeDaemon(options.dataDir)
    if (first._tag === "Ready") return { state: first.state, started: false, log }
    if (first._tag === "Starting") {
      const ready = yield* awaitOther(first.owner)
      if (ready !== undefined) return ready
    }
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 })
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
    const token = () => tokenOf(options.dataDir)
    while (true) {
      const state = readState(options.dataDir)
      if (
        state !== undefined &&
        state.pid === child.pid &&
        (yield* Effect.promise(() => answersWithToken(state.url, token())))
      )
        return { state, started: true, log }
      if (exited === DAEMON_EXIT_RUNNING) {
        // Another start won the data dir between our probe and this process's lock.
        const probe = yield* probeDaemon(options.dataDir)
        if (probe._tag === "Ready") return { state: probe.state, started: false, log }
        const ready = probe._tag === "Starting" ? yield* awaitOther(probe.owner) : undefined
        if (ready !== undefined) return ready
      }
      if (exited !== undefined)
        return yield* new DaemonStartFailed({
          message: `the daemon exited with code ${exited} before it was ready`,
          log: logTail(log),
        })
      if (Date.now() > deadline) {
        if (child.pid !== undefined) {
          signal(child.pid, "SIGTERM")
          const gone = yield* awaitReleased(
            options.dataDir,
            Date.now() + STOP_AFTER_GIVING_UP_MILLIS,
          )
          if (!gone) signal(child.pid, "SIGKILL")
        }
        return yield* new DaemonStartFailed({
          message: `the daemon was not ready after ${options.timeoutMillis / 1000} s and was stopped`,
          log: logTail(log),
        })
      }
      yield* Effect.sleep(100)
    }
  })

/**
 * Stops the daemon on `dataDir` gracefully (SIGTERM) and waits until its process has gone
 * (the data dir's lock is free). A daemon still starting is stopped too.
 */
export const stopDaemon = (dataDir: string, timeoutMillis: number) =>
  Effect.gen(function* () {
    const probe = yield* probeDaemon(dataDir)
    const pid =
      probe._tag === "Ready"
        ? probe.state.pid
        : probe._tag === "Starting"
          ? probe.owner?.pid
          : undefined
    if (pid === undefined) {
      if (probe._tag === "Starting")
        return yield* new DaemonStopFailed({
          message: `a process holds ${dataDir} but has not written its pid yet; try again`,
        })
      return { stopped: false as const }
    }
    signal(pid, "SIGTERM")
    if (!(yield* awaitReleased(dataDir, Date.now() + timeoutMillis)))
      return yield* new DaemonStopFailed({
        message: `pid ${pid} still runs after ${timeoutMillis / 1000} s; see ${join(dataDir, "daemon.log")}`,
      })
    return { stopped: true as const, pid }
  })

/** Where the daemon on `dataDir` listens and its token, once it answers on its API. */
export const connectionOf = (dataDir: string) =>
  Effect.gen(function* () {
    const probe = yield* probeDaemon(dataDir)
    if (probe._tag === "Starting")
      return yield* new DaemonNotRunning({ dataDir, starting: { pid: probe.owner?.pid } })
    if (probe._tag === "Stopped") return yield* new DaemonNotRunning({ dataDir })
    return { url: probe.state.url, token: tokenOf(dataDir) }
  })
