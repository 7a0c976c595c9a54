// What a long-running process built on the backend needs alike (the daemon and the backup
// server): JSON-lines logs, its settings or an exit, and the choice of Veilid network from a
// flag or a config file.
import { readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { Cause, Data, Effect, Exit, Fiber, Layer, Logger, References, Scope } from "effect"
import type { BackendConfig } from "./backend.ts"

export type LogLevel = "debug" | "info" | "warn" | "error"
export const logLevels: ReadonlyArray<LogLevel> = ["debug", "info", "warn", "error"]

const effectLevels = { debug: "Debug", info: "Info", warn: "Warn", error: "Error" } as const

/** The process's log level as Effect's `MinimumLogLevel`. */
export const effectLogLevel = (level: LogLevel) => effectLevels[level]

/**
 * One JSON object per line on stderr: `{"time","level","message",...annotations}`, with
 * `cause` when the entry carries one. stdout stays free for what a caller parses.
 */
export const jsonLinesLogger = (write: (line: string) => void = (l) => process.stderr.write(l)) =>
  Logger.map(Logger.formatStructured, (entry) => {
    const line: Record<string, unknown> = {
      time: entry.timestamp,
      level: entry.level.toLowerCase(),
      message: entry.message,
      ...entry.annotations,
    }
    if (entry.cause !== undefined) line.cause = entry.cause
    write(`${JSON.stringify(line)}\n`)
  })

/**
 * Which Veilid network a process's node joins: the public one, a node of the testnet it is
 * attached to (`veilid-testnet exec --attach NAME`), or a full veilid-core config file.
 */
export type NetworkChoice =
  | { readonly _tag: "Public" }
  | { readonly _tag: "Testnet"; readonly node: string }
  | { readonly _tag: "ConfigFile"; readonly path: string }

/** Why a `--network` value is not one (returned, for the caller's own config error). */
export class InvalidNetworkChoice extends Data.TaggedError("InvalidNetworkChoice")<{
  readonly message: string
}> {}

/**
 * `public`, `testnet[:NODE]` or `config:/path/veilid.json` (relative to `base`);
 * `defaultNode` names the testnet node when none is given.
 */
export const parseNetworkChoice = (
  text: string,
  defaultNode: string,
  base: string = process.cwd(),
): NetworkChoice | InvalidNetworkChoice => {
  if (text === "public") return { _tag: "Public" }
  if (text === "testnet" || text.startsWith("testnet:")) {
    const node = text.slice("testnet:".length) || defaultNode
    if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(node))
      return new InvalidNetworkChoice({
        message: `network ${JSON.stringify(text)}: a testnet node name is lowercase letters, digits and -`,
      })
    return { _tag: "Testnet", node }
  }
  if (text.startsWith("config:")) {
    const path = text.slice("config:".length)
    if (path === "")
      return new InvalidNetworkChoice({
        message: "network config: needs a veilid-core config file",
      })
    return { _tag: "ConfigFile", path: resolve(base, path) }
  }
  return new InvalidNetworkChoice({
    message: `network ${JSON.stringify(text)}: expected public, testnet[:NODE] or config:/path/veilid.json`,
  })
}

/** Why a process's JSON config file cannot be used (returned, for the caller's own error). */
export class InvalidConfigFile extends Data.TaggedError("InvalidConfigFile")<{
  readonly message: string
}> {}

/**
 * A process's JSON config file: an object of string or number values under `keys` only.
 * A missing file is `{}` unless `required`.
 */
export const readJsonConfigFile = (
  file: string,
  keys: ReadonlyArray<string>,
  required: boolean,
): Readonly<Record<string, string | number>> | InvalidConfigFile => {
  const invalid = (why: string) => new InvalidConfigFile({ message: `config file ${file}: ${why}` })
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch (cause) {
    if (!required && (cause as NodeJS.ErrnoException).code === "ENOENT") return {}
    return invalid((cause as Error).message)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (cause) {
    return invalid(`not JSON (${(cause as Error).message})`)
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    return invalid("expected a JSON object")
  for (const [key, value] of Object.entries(parsed)) {
    if (!keys.includes(key)) return invalid(`unknown key ${JSON.stringify(key)}`)
    if (typeof value !== "string" && typeof value !== "number")
      return invalid(`${key} must be a string or a number`)
  }
  return parsed as Record<string, string | number>
}

/** Where a process's settings come from: flags, then the environment, then its config file. */
export interface ConfigSources<Raw> {
  /** The data dir a flag or the environment gives (as given), if any. */
  readonly dataDirGiven: string | undefined
  /** That data dir resolved, else the default: where `config.json` is looked for. */
  readonly baseDir: string
  /** The config file named by a flag or the environment, else `baseDir/config.json`. */
  readonly configFile: string
  /** The config file, when one was named or found not empty (for the start-up log). */
  readonly fileUsed: string | undefined
  /** What the config file holds (`{}` when there is none). */
  readonly file: Raw
  /** A setting: the flag, else the environment variable `envName`, else the file's `key`. */
  readonly pick: <K extends keyof Raw>(
    flag: string | undefined,
    envName: string,
    key: K,
  ) => string | Raw[K] | undefined
}

/**
 * Finds and reads a process's config file: named by `config` (a flag or the environment:
 * then it must exist), else `config.json` in the data dir (`dataDir`, else `defaultDataDir`)
 * when it is there.
 */
export const configSourcesOf = <
  Raw extends Readonly<Record<string, string | number | undefined>>,
>(options: {
  readonly dataDir: string | undefined
  readonly config: string | undefined
  readonly defaultDataDir: string
  readonly env: NodeJS.ProcessEnv
  readonly fileKeys: ReadonlyArray<keyof Raw & string>
}): Effect.Effect<ConfigSources<Raw>, InvalidConfigFile> => {
  const { dataDir, config, env } = options
  const baseDir = resolve(dataDir ?? options.defaultDataDir)
  const configFile = config === undefined ? join(baseDir, "config.json") : resolve(config)
  const read = readJsonConfigFile(configFile, options.fileKeys, config !== undefined)
  if (read instanceof InvalidConfigFile) return Effect.fail(read)
  const file = read as Raw
  return Effect.succeed({
    dataDirGiven: dataDir,
    baseDir,
    configFile,
    fileUsed: config !== undefined || Object.keys(file).length > 0 ? configFile : undefined,
    file,
    pick: (flag, envName, key) => flag ?? env[envName] ?? file[key],
  })
}

/**
 * A process's data dir holds one node's stores alone, so veilid-core's `namespace` (which
 * partitions stores shared by several nodes) is cleared: a testnet config names one per
 * run, and keeping it would hide the stored groups from the next start.
 */
const ownStores = (veilidConfig: unknown): { readonly veilidConfig: unknown } =>
  typeof veilidConfig === "object" && veilidConfig !== null
    ? { veilidConfig: { ...veilidConfig, namespace: "" } }
    : { veilidConfig }

/**
 * A testnet this process attaches to: `attachTestnet` of `@save-dweb/veilid-testnet`,
 * given by the program (the daemon, the backup server) so that the backend itself does
 * not depend on the testnet package.
 */
export interface TestnetAttachment {
  readonly nodeConfig: (name: string) => unknown
  /** Frees what the attachment took (addresses, storage); called when the process exits. */
  readonly release: () => void
}

export type AttachTestnet = () => TestnetAttachment | Promise<TestnetAttachment>

/**
 * The backend's `network` setting for a choice. `Testnet` needs `attachTestnet` (the
 * programs pass `@save-dweb/veilid-testnet`'s); without it the choice is refused.
 */
export const veilidNetworkOf = (
  choice: NetworkChoice,
  attachTestnet?: AttachTestnet,
): Effect.Effect<NonNullable<BackendConfig["network"]>, Error> => {
  switch (choice._tag) {
    case "Public":
      return Effect.succeed("public" as const)
    case "Testnet": {
      if (attachTestnet === undefined) {
        return Effect.fail(new Error("--network testnet is not supported by this program"))
      }
      return Effect.tryPromise({
        try: async () => {
          const testnet = await attachTestnet()
          process.once("exit", () => testnet.release())
          return ownStores(testnet.nodeConfig(choice.node))
        },
        catch: (cause) =>
          new Error(
            `--network testnet needs a testnet to attach to (run under \`veilid-testnet exec --attach NAME\`): ${(cause as Error).message}`,
          ),
      })
    }
    case "ConfigFile":
      return Effect.try({
        try: () => ownStores(JSON.parse(readFileSync(choice.path, "utf8")) as unknown),
        catch: (cause) => new Error(`veilid config ${choice.path}: ${(cause as Error).message}`),
      })
  }
}

/** Writes one JSON error line on stderr and exits with `code` (before any Effect runs). */
export const exitWith = (message: string, code: number): never => {
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: "error", message })}\n`,
  )
  process.exit(code)
}

/** What a process's settings resolve to: the usage text asked for, or the settings. */
export type Settings<C> = { readonly help: true } | { readonly help: false; readonly config: C }

/**
 * The settings `resolved` answers, read before logging starts: `--help` prints `usage` on
 * stdout and exits 0; a `ConfigError` is one JSON line on stderr and exit `code`.
 */
export const settingsOrExit = <C>(
  resolved: Effect.Effect<Settings<C>, { readonly _tag: "ConfigError"; readonly message: string }>,
  usage: string,
  code: number,
): C => {
  const settings = Effect.runSync(
    resolved.pipe(
      Effect.catchTag("ConfigError", (error) => Effect.sync(() => exitWith(error.message, code))),
    ),
  )
  if (settings.help) {
    process.stdout.write(`${usage}\n`)
    process.exit(0)
  }
  return settings.config
}

export interface ProcessOptions {
  readonly logLevel: LogLevel
  /**
   * Everything the process runs, acquired in the scope it is given: the scope closes in
   * order (last acquired first) on SIGINT or SIGTERM. A failure here is logged as
   * `start failed` and the process exits 1.
   */
  readonly start: Effect.Effect<unknown, unknown, Scope.Scope>
  /** How long the shutdown may take before the process exits 1 anyway. */
  readonly graceMillis: number
}

/**
 * Runs a long-lived process: JSON-line logs at `logLevel`, `start` in a scope of its own,
 * then waits for SIGINT or SIGTERM, logs `stopping`, closes the scope and logs `stopped`.
 * Exit codes: 0 after a signal, 1 when the start or the shutdown failed or the grace
 * period ran out; a second signal exits at once (130).
 */
export const runProcess = (options: ProcessOptions): void => {
  const logging = Layer.mergeAll(
    Logger.layer([jsonLinesLogger()]),
    Layer.succeed(References.MinimumLogLevel, effectLogLevel(options.logLevel)),
  )
  const program = Effect.gen(function* () {
    const scope = yield* Scope.make("sequential")
    const started = yield* Effect.exit(Scope.provide(scope)(options.start))
    if (Exit.isFailure(started)) {
      yield* Effect.logError("start failed").pipe(
        Effect.annotateLogs({ cause: Cause.pretty(started.cause) }),
      )
      yield* Scope.close(scope, Exit.void)
      return 1
    }
    return yield* Effect.never.pipe(
      Effect.onInterrupt(() =>
        Effect.logInfo("stopping").pipe(
          Effect.andThen(Scope.close(scope, Exit.void)),
          Effect.andThen(Effect.logInfo("stopped")),
        ),
      ),
    )
  }).pipe(Effect.provide(logging))

  const fiber = Effect.runFork(program)
  let signalled = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      process.stderr.write(
        `${JSON.stringify({ time: new Date().toISOString(), level: "warn", message: `second ${signal}: exiting now` })}\n`,
      )
      process.exit(130)
    }
    signalled = true
    setTimeout(
      () => exitWith(`shutdown took over ${options.graceMillis} ms`, 1),
      options.graceMillis,
    ).unref()
    Effect.runFork(Fiber.interrupt(fiber))
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  fiber.addObserver((exit) => {
    process.exitCode = Exit.isSuccess(exit) ? exit.value : signalled ? 0 : 1
    if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause))
      process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
    // Native handles (Veilid, Iroh) are closed by now; nothing else should keep us alive.
    setTimeout(() => process.exit(), 2_000).unref()
  })
}
