// `save-dweb-backup-server`: the process. Settings from flags, environment and config
// file; JSON-lines logs on stderr; the descriptor link on stdout once online; SIGINT or
// SIGTERM stop it cleanly (route cleared from its descriptor record, groups closed, Iroh
// and Veilid shut down); a second signal exits at once.
import { mkdirSync } from "node:fs"
import {
  exitWith,
  lockDataDir,
  runProcess,
  settingsOrExit,
  unlockWithPassphraseFile,
  veilidNetworkOf,
} from "@save-dweb/backend"
import { tuneV8ForTransfers } from "@save-dweb/backend/process-settings"
import { Effect, Schedule } from "effect"
import { resolveConfig, usage } from "./config.ts"
import { makeRealBackupServer } from "./real.ts"

// The daemon's V8 settings for moving files (apps/daemon README, Memory).
tuneV8ForTransfers()

/**
 * Exit codes: 0 stopped cleanly, 1 failed, 2 bad configuration, 3 already running,
 * 4 the data dir is locked and the passphrase is missing or wrong.
 */
const EXIT_CONFIG = 2
const EXIT_RUNNING = 3
const EXIT_LOCKED = 4
const SHUTDOWN_GRACE_MILLIS = 60_000

const config = settingsOrExit(resolveConfig(process.argv.slice(2), process.env), usage, EXIT_CONFIG)
try {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
} catch (cause) {
  exitWith(`data dir ${config.dataDir}: ${(cause as Error).message}`, EXIT_CONFIG)
}
// One server per data dir from the first instant, before Veilid or Iroh open a store there;
// the kernel drops the lock when this process dies.
await Effect.runPromise(
  lockDataDir(config.dataDir, "save-dweb-backup-server").pipe(
    Effect.catchTag("DataDirLocked", (locked) =>
      Effect.sync(() => exitWith(locked.message, EXIT_RUNNING)),
    ),
  ),
)

// A data dir locked with a passphrase opens with it only, checked before Veilid starts.
const storage = await Effect.runPromise(
  unlockWithPassphraseFile(config.dataDir, config.passphraseFile).pipe(
    Effect.catchTags({
      PassphraseRequired: (e) => Effect.sync(() => exitWith(e.message, EXIT_LOCKED)),
      WrongPassphrase: (e) => Effect.sync(() => exitWith(e.message, EXIT_LOCKED)),
      StorageLockError: (e) => Effect.sync(() => exitWith(e.message, EXIT_CONFIG)),
      PassphraseKdfError: (e) => Effect.sync(() => exitWith(e.message, 1)),
    }),
  ),
)

// `--network testnet` attaches to a private testnet (tests, the demo); its package loads
// only when asked.
const attachTestnet = () =>
  import("@save-dweb/veilid-testnet").then((testnet) => testnet.attachTestnet())

const startServer = Effect.gen(function* () {
  const network = yield* veilidNetworkOf(config.network, attachTestnet)
  return yield* makeRealBackupServer({
    dataDir: config.dataDir,
    network,
    storage,
    ...(config.name === undefined ? {} : { name: config.name }),
    maxGroups: config.maxGroups,
    minSyncInterval: `${config.minSyncSeconds} seconds`,
    maxSyncRetry: `${config.maxRetrySeconds} seconds`,
    pollInterval: config.pollSeconds === 0 ? null : `${config.pollSeconds} seconds`,
    veilid: { readyTimeout: `${config.attachTimeoutSeconds} seconds` },
    iroh: {
      ...(config.irohIpv4 === undefined ? {} : { ipv4Addr: config.irohIpv4 }),
      ...(config.irohIpv6 === undefined ? {} : { ipv6Addr: config.irohIpv6 }),
    },
  })
})

runProcess({
  logLevel: config.logLevel,
  graceMillis: SHUTDOWN_GRACE_MILLIS,
  start: Effect.gen(function* () {
    yield* Effect.logInfo("starting").pipe(
      Effect.annotateLogs({
        dataDir: config.dataDir,
        network: config.network._tag,
        configFile: config.configFile ?? null,
        pid: process.pid,
      }),
    )
    const server = yield* startServer
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
        Effect.forkScoped,
      )
    }
  }),
})
