// Shared by the integration tests and the benchmark: members' backends on a private Veilid
// testnet (inside `veilid-testnet exec`), the backup server as a real child process
// (`src/main.ts` with a config file), temp dirs that are removed, and file checks.
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { type BackendShape, makeRealBackend } from "@save-dweb/backend"
import { type Testnet, withTestnet } from "@save-dweb/veilid-testnet"
import { Context, Data, Deferred, Duration, Effect, Exit, Layer, Scope } from "effect"

export class Net extends Context.Service<Net, Testnet>()("@save-dweb/backup-server/test/Net") {}

export const NetLive = Layer.effect(Net, withTestnet())

export const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "backup-it-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
)

export interface Started {
  readonly backend: BackendShape
  readonly storageDir: string
  /** Stops the backend (idempotent); also run when the test's scope closes. */
  readonly stop: Effect.Effect<void>
}

/** A member's backend for testnet node `name` on `storageDir`, in a scope of its own. */
export const startMember = (testnet: Testnet, name: string, storageDir: string) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const stop = Scope.close(scope, Exit.void)
    yield* Effect.addFinalizer(() => stop)
    const backend: BackendShape = yield* Scope.provide(scope)(
      makeRealBackend({
        storageDir,
        network: { veilidConfig: testnet.nodeConfig(name) },
        veilid: { readyTimeout: "120 seconds" },
        iroh: { ipv4Addr: "127.0.0.1:0", ipv6Addr: "[::1]:0", fetchTimeoutMillis: 20_000 },
      }),
    )
    const started: Started = { backend, storageDir, stop }
    return started
  })

export class ServerExited extends Data.TaggedError("ServerExited")<{
  readonly code: number | null
  readonly log: string
}> {}

/** The backup server process: its link, its log lines so far, and how to stop it. */
export interface ServerProcess {
  readonly pid: number
  readonly link: string
  readonly dataDir: string
  /** Every JSON log line it wrote to stderr (parsed), in order. */
  readonly logs: ReadonlyArray<Record<string, unknown>>
  /** Every line it wrote to stdout and stderr, as written. */
  readonly output: ReadonlyArray<string>
  /** SIGTERM, then its exit code once it is gone. */
  readonly stop: Effect.Effect<number | null>
}

const mainScript = new URL("../src/main.ts", import.meta.url).pathname

/** A backup server process just spawned: what it wrote so far, and its link once online. */
export interface SpawnedServer {
  readonly pid: number
  readonly dataDir: string
  readonly logs: ReadonlyArray<Record<string, unknown>>
  readonly output: ReadonlyArray<string>
  /** Its exit code once it is gone. */
  readonly exited: Effect.Effect<number | null>
  /** Its descriptor link once online; dies with `ServerExited` if it exits first. */
  readonly online: Effect.Effect<ServerProcess>
}

/**
 * Writes the server's config (data dir `dir/data`, the testnet node's veilid config in
 * `dir/veilid.json`, Iroh on loopback) unless it exists and starts `src/main.ts` on it,
 * without waiting. Killed when the scope closes if still running.
 */
export const spawnServer = (
  testnet: Testnet,
  dir: string,
  options: {
    readonly name?: string
    readonly node?: string
    /** More keys for its config file. */
    readonly config?: Record<string, string | number>
  } = {},
) =>
  Effect.gen(function* () {
    const configFile = join(dir, "server.json")
    const veilidFile = join(dir, "veilid.json")
    const written = yield* Effect.promise(() => readdir(dir))
    if (!written.includes("server.json")) {
      yield* Effect.promise(() =>
        writeFile(veilidFile, JSON.stringify(testnet.nodeConfig(options.node ?? "backup"))),
      )
      yield* Effect.promise(() =>
        writeFile(
          configFile,
          JSON.stringify({
            dataDir: "data",
            network: "config:veilid.json",
            logLevel: "debug",
            irohIpv4: "127.0.0.1:0",
            irohIpv6: "[::1]:0",
            minSyncSeconds: 1,
            maxRetrySeconds: 5,
            ...(options.name === undefined ? {} : { name: options.name }),
            ...options.config,
          }),
        ),
      )
    }
    const logs: Array<Record<string, unknown>> = []
    const output: Array<string> = []
    const child: ChildProcess = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(
          process.execPath,
          ["--conditions=@save-dweb/source", mainScript, "--config", configFile],
          {
            stdio: ["ignore", "pipe", "pipe"],
          },
        ),
      ),
      (child) =>
        Effect.sync(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
        }),
    )
    const exited = yield* Deferred.make<number | null>()
    child.once("exit", (code) => Deferred.doneUnsafe(exited, Exit.succeed(code)))
    if (child.stderr !== null) {
      createInterface({ input: child.stderr }).on("line", (line) => {
        output.push(line)
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>)
        } catch {
          logs.push({ message: line })
        }
      })
    }
    const linked = yield* Deferred.make<string>()
    if (child.stdout !== null) {
      createInterface({ input: child.stdout }).on("line", (line) => {
        output.push(line)
        if (line.startsWith("save+dweb:backup?")) Deferred.doneUnsafe(linked, Exit.succeed(line))
      })
    }
    const tail = () =>
      logs
        .slice(-30)
        .map((l) => JSON.stringify(l))
        .join("\n")
    const stop = Effect.suspend(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
      return Deferred.await(exited)
    })
    const pid = child.pid ?? -1
    const dataDir = join(dir, "data")
    const online = Effect.raceFirst(
      Deferred.await(linked),
      Effect.flatMap(Deferred.await(exited), (code) =>
        Effect.die(new ServerExited({ code, log: tail() })),
      ),
    ).pipe(
      Effect.timeoutOrElse({
        duration: Duration.minutes(6),
        orElse: () => Effect.die(new Error(`no link within 6 minutes:\n${tail()}`)),
      }),
      Effect.map((link): ServerProcess => ({ pid, link, dataDir, logs, output, stop })),
    )
    const spawned: SpawnedServer = {
      pid,
      dataDir,
      logs,
      output,
      exited: Deferred.await(exited),
      online,
    }
    return spawned
  })

/** `spawnServer`, then waits for its descriptor link on stdout. */
export const startServer = (
  testnet: Testnet,
  dir: string,
  options: Parameters<typeof spawnServer>[2] = {},
) => Effect.flatMap(spawnServer(testnet, dir, options), (spawned) => spawned.online)

/** Whether the store under `dir` keeps `hash` as a file of its own (blobs over 16 KiB). */
export const holdsBlobFile = (dir: string, hash: string) =>
  Effect.map(
    Effect.promise(() => readdir(join(dir, "iroh"), { recursive: true })),
    (files) => files.some((f) => f.endsWith(`${hash}.data`)),
  )

/** The bytes of `hash`'s data file in the store under `dir`. */
export const blobFileBytes = (dir: string, hash: string) =>
  Effect.gen(function* () {
    const files = yield* Effect.promise(() => readdir(join(dir, "iroh"), { recursive: true }))
    const file = files.find((f) => f.endsWith(`${hash}.data`))
    if (file === undefined) return yield* Effect.die(new Error(`no data file for ${hash}`))
    return new Uint8Array(yield* Effect.promise(() => readFile(join(dir, "iroh", file))))
  })

/** The files under `dir` (recursively) whose bytes contain `needle`'s UTF-8. */
export const filesContaining = (dir: string, needle: string) =>
  Effect.promise(async () => {
    const bytes = Buffer.from(needle, "utf8")
    const found: Array<string> = []
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue
      const path = join(entry.parentPath, entry.name)
      const content = await readFile(path).catch(() => undefined)
      if (content?.includes(bytes)) found.push(path)
    }
    return found
  })

export const timeout = 600_000
export { deadline, eventually, NotYet } from "@save-dweb/test-support"
