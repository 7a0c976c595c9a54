// `save-dweb-backup-server`: the process. Settings from flags, environment and config
// file; JSON-lines logs on stderr; the descriptor link on stdout once online; SIGINT or
// SIGTERM stop it cleanly (route cleared from its descriptor record, groups closed, Iroh
// and Veilid shut down); a second signal exits at once.
import { mkdirSync } from "node:fs"
import { effectLogLevel, jsonLinesLogger, veilidNetworkOf } from "@save-dweb/backend"
import { Cause, Effect, Exit, Fiber, Layer, Logger, References, Schedule, Scope } from "effect"
import { ConfigError, type ProcessConfig, resolveConfig, usage } from "./config.ts"
import { makeRealBackupServer } from "./real.ts"

/** Exit codes: 0 stopped cleanly, 1 failed, 2 bad configuration. */
const EXIT_FAILED = 1
const EXIT_CONFIG = 2
const SHUTDOWN_GRACE_MILLIS = 60_000

const fatal = (message: string, code: number): never => {
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: "error", message })}\n`,
  )
  process.exit(code)
}

const configOrExit = (): ProcessConfig => {
  try {
    const resolved = resolveConfig(process.argv.slice(2), process.env)
    if (resolved.help) {
      process.stdout.write(`${usage}\n`)
      process.exit(0)
    }
    return resolved.config
  } catch (cause) {
    if (cause instanceof ConfigError) return fatal(cause.message, EXIT_CONFIG)
    throw cause
  }
}

const config = configOrExit()
try {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
} catch (cause) {
  fatal(`data dir ${config.dataDir}: ${(cause as Error).message}`, EXIT_CONFIG)
}

const logging = Layer.mergeAll(
  Logger.layer([jsonLinesLogger()]),
  Layer.succeed(References.MinimumLogLevel, effectLogLevel(config.logLevel)),
)

const start = Effect.gen(function* () {
  const network = yield* veilidNetworkOf(config.network)
  return yield* makeRealBackupServer({
    dataDir: config.dataDir,
    network,
    ...(config.name === undefined ? {} : { name: config.name }),
    maxGroups: config.maxGroups,
    minSyncInterval: `${config.minSyncSeconds} seconds`,
    maxSyncRetry: `${config.maxRetrySeconds} seconds`,
    pollInterval: config.pollSeconds === 0 ? null : `${config.pollSeconds} seconds`,
    veilid: { readyTimeout: "120 seconds" },
    iroh: {
      ...(config.irohIpv4 === undefined ? {} : { ipv4Addr: config.irohIpv4 }),
      ...(config.irohIpv6 === undefined ? {} : { ipv6Addr: config.irohIpv6 }),
    },
  })
})

const program = Effect.gen(function* () {
  yield* Effect.logInfo("starting").pipe(
    Effect.annotateLogs({
      dataDir: config.dataDir,
      network: config.network._tag,
      configFile: config.configFile ?? null,
      pid: process.pid,
    }),
  )
  const scope = yield* Scope.make("sequential")
  const started = yield* Effect.exit(Scope.provide(scope)(start))
  if (Exit.isFailure(started)) {
    yield* Effect.logError("start failed").pipe(
      Effect.annotateLogs({ cause: Cause.pretty(started.cause) }),
    )
    yield* Scope.close(scope, Exit.void)
    return EXIT_FAILED
  }
  const server = started.value
  process.stdout.write(`${server.link}\n`)
  yield* Effect.logInfo("online").pipe(
    Effect.annotateLogs({
      record: server.descriptor.record,
      groups: (yield* server.list).length,
    }),
  )
  if (config.memoryLogSeconds > 0) {
    const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10
    yield* Effect.sync(() => process.memoryUsage()).pipe(
      Effect.flatMap((m) =>
        Effect.logInfo("memory").pipe(
          Effect.annotateLogs({
            rssMiB: mib(m.rss),
            heapUsedMiB: mib(m.heapUsed),
            externalMiB: mib(m.external),
          }),
        ),
      ),
      Effect.repeat(Schedule.spaced(`${config.memoryLogSeconds} seconds`)),
      Effect.forkIn(scope),
    )
  }
  // Runs until a signal interrupts it; then the scope closes in order.
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
    () => fatal(`shutdown took over ${SHUTDOWN_GRACE_MILLIS} ms`, EXIT_FAILED),
    SHUTDOWN_GRACE_MILLIS,
  ).unref()
  Effect.runFork(Fiber.interrupt(fiber))
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)
fiber.addObserver((exit) => {
  process.exitCode = Exit.isSuccess(exit) ? exit.value : signalled ? 0 : EXIT_FAILED
  if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
    process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
  }
  // Veilid and Iroh are closed by now; nothing else should keep the process alive.
  setTimeout(() => process.exit(), 2_000).unref()
})
