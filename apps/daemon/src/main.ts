import { setFlagsFromString } from "node:v8"
import { effectLogLevel, jsonLinesLogger, veilidNetworkOf } from "@save-dweb/backend"
import { Cause, Effect, Exit, Fiber, Layer, Logger, References, Scope } from "effect"
import { ConfigError, type DaemonConfig, resolveConfig, usage } from "./config.ts"
import { type DaemonEnvironment, runDaemon } from "./daemon.ts"
import { ensureDataDir, isAlive, readState } from "./state.ts"

// Files pass through this process as short-lived Buffers off the JS heap (request bodies,
// encrypted and decrypted records). V8 by default starts a full mark-compact each time such
// memory grows by 64 MB, a fifth of an upload's time; counted in the heap's global limit
// instead, young-generation collections reclaim it (packages/rpc-server README, Benchmark:
// uploads about 1.2x and downloads 1.4x faster, the RPC's share of uploads 0.9).
setFlagsFromString("--external-memory-accounted-in-global-limit")

/** Exit codes: 0 stopped cleanly, 1 failed, 2 bad configuration, 3 already running. */
const EXIT_FAILED = 1
const EXIT_CONFIG = 2
const EXIT_RUNNING = 3
const SHUTDOWN_GRACE_MILLIS = 30_000

const environment: DaemonEnvironment = { network: veilidNetworkOf }

const fatal = (message: string, code: number): never => {
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: "error", message })}\n`,
  )
  process.exit(code)
}

const configOrExit = (): DaemonConfig => {
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
ensureDataDir(config.dataDir)
const running = readState(config.dataDir)
if (running !== undefined && running.pid !== process.pid && isAlive(running.pid))
  fatal(
    `a daemon (pid ${running.pid}) already runs on ${config.dataDir} at ${running.url}`,
    EXIT_RUNNING,
  )

const logging = Layer.mergeAll(
  Logger.layer([jsonLinesLogger()]),
  Layer.succeed(References.MinimumLogLevel, effectLogLevel(config.logLevel)),
)

const program = Effect.gen(function* () {
  const scope = yield* Scope.make("sequential")
  const exit = yield* Effect.exit(Scope.provide(scope)(runDaemon(config, environment)))
  if (Exit.isFailure(exit)) {
    yield* Effect.logError("start failed").pipe(
      Effect.annotateLogs({ cause: Cause.pretty(exit.cause) }),
    )
    yield* Scope.close(scope, Exit.void)
    return EXIT_FAILED
  }
  // Runs until interrupted by a signal; then the scope closes in order.
  yield* Effect.never.pipe(
    Effect.onInterrupt(() =>
      Effect.logInfo("stopping").pipe(
        Effect.andThen(Scope.close(scope, Exit.void)),
        Effect.andThen(Effect.logInfo("stopped")),
      ),
    ),
  )
  return 0
}).pipe(Effect.provide(logging))

const fiber = Effect.runFork(program)
let signalled = false
const onSignal = (signal: NodeJS.Signals) => {
  if (signalled) {
    process.stderr.write(
      `${JSON.stringify({ level: "warn", message: `second ${signal}: exiting now` })}\n`,
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
  if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause))
    process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
  // Native handles (Veilid, Iroh) are closed by now; nothing else should keep us alive.
  setTimeout(() => process.exit(), 2_000).unref()
})
