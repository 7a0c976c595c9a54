import {
  exitWith,
  lockDataDir,
  runProcess,
  settingsOrExit,
  unlockWithPassphraseFile,
  veilidNetworkOf,
} from "@save-dweb/backend"
import { tuneV8ForTransfers } from "@save-dweb/backend/process-settings"
import { Effect } from "effect"
import { resolveConfig, usage } from "./config.ts"
import { backendDir, type DaemonEnvironment, runDaemon } from "./daemon.ts"
import { ensureDataDir } from "./state.ts"

// V8 settings for moving files (README, Memory).
tuneV8ForTransfers()

/**
 * Exit codes: 0 stopped cleanly, 1 failed, 2 bad configuration, 3 already running,
 * 4 the data dir is locked and the passphrase is missing or wrong.
 */
const EXIT_CONFIG = 2
const EXIT_RUNNING = 3
const EXIT_LOCKED = 4
const SHUTDOWN_GRACE_MILLIS = 30_000

// `--network testnet` attaches to a private testnet (tests, the demo); its package loads
// only when asked.
const attachTestnet = () =>
  import("@save-dweb/veilid-testnet").then((testnet) => testnet.attachTestnet())

const environment: DaemonEnvironment = {
  network: (choice) => veilidNetworkOf(choice, attachTestnet),
}

const config = settingsOrExit(resolveConfig(process.argv.slice(2), process.env), usage, EXIT_CONFIG)
ensureDataDir(config.dataDir)
// One daemon per data dir from the first instant, before Veilid or Iroh open a store there;
// the kernel drops the lock when this process dies. `daemon.json` is only information.
await Effect.runPromise(
  lockDataDir(config.dataDir, "save-dweb-daemon").pipe(
    Effect.catchTag("DataDirLocked", (locked) =>
      Effect.sync(() =>
        exitWith(
          locked.owner === undefined
            ? `a daemon is starting on ${config.dataDir}`
            : `a daemon (pid ${locked.owner.pid}) already runs on ${config.dataDir} (since ${locked.owner.startedAt})`,
          EXIT_RUNNING,
        ),
      ),
    ),
  ),
)

// A data dir locked with a passphrase opens with it only, checked before Veilid starts.
const storage = await Effect.runPromise(
  unlockWithPassphraseFile(backendDir(config.dataDir), config.passphraseFile).pipe(
    Effect.catchTags({
      PassphraseRequired: (e) => Effect.sync(() => exitWith(e.message, EXIT_LOCKED)),
      WrongPassphrase: (e) => Effect.sync(() => exitWith(e.message, EXIT_LOCKED)),
      StorageLockError: (e) => Effect.sync(() => exitWith(e.message, EXIT_CONFIG)),
      PassphraseKdfError: (e) => Effect.sync(() => exitWith(e.message, 1)),
    }),
  ),
)

runProcess({
  logLevel: config.logLevel,
  start: runDaemon(config, { ...environment, storage }),
  graceMillis: SHUTDOWN_GRACE_MILLIS,
})
