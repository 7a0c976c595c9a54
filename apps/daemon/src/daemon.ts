import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { type BackendConfig, type BackendShape, makeRealBackend } from "@save-dweb/backend"
import { serve } from "@save-dweb/rpc-server"
import { Clock, Duration, Effect } from "effect"
import type { DaemonConfig, Network } from "./config.ts"
import { clearState, writeState } from "./state.ts"

/** The package's version (set by `changeset version`), read from its package.json. */
export const VERSION: string = (
  createRequire(import.meta.url)("../package.json") as { version: string }
).version

/** The web page's built files (`@save-dweb/web`), served at `/` when they are there. */
const webDir = (): string | undefined => {
  try {
    const pkg = createRequire(import.meta.url).resolve("@save-dweb/web/package.json")
    const dir = join(dirname(pkg), "dist")
    return existsSync(join(dir, "index.html")) ? dir : undefined
  } catch {
    return undefined
  }
}

/** What the daemon needs besides its config: how a network choice becomes the backend's. */
export interface DaemonEnvironment {
  readonly network: (choice: Network) => Effect.Effect<NonNullable<BackendConfig["network"]>, Error>
}

/** Loads every known group so its repo serves and publishes its route again. */
const loadKnownGroups = (backend: BackendShape) =>
  Effect.gen(function* () {
    const groups = yield* backend.listGroups
    for (const g of groups) {
      yield* backend.loadGroup(g.key).pipe(
        Effect.tap(() =>
          Effect.logInfo("group loaded").pipe(Effect.annotateLogs({ group: g.key })),
        ),
        Effect.catch((error) =>
          Effect.logWarning("group not loaded; retried on first use").pipe(
            Effect.annotateLogs({ group: g.key, error: String(error) }),
          ),
        ),
      )
    }
    return groups.length
  })

/**
 * The daemon in the current scope: backend (Veilid + Iroh), known groups loaded, RPC
 * server listening, state file written for the CLI. Closing the scope stops the server,
 * closes the groups (their routes cleared from the DHT), then Iroh and Veilid.
 */
export const runDaemon = (config: DaemonConfig, environment: DaemonEnvironment) =>
  Effect.gen(function* () {
    yield* Effect.logInfo("starting").pipe(
      Effect.annotateLogs({
        dataDir: config.dataDir,
        network: config.network._tag,
        configFile: config.configFile ?? null,
        version: VERSION,
      }),
    )
    const network = yield* environment.network(config.network)
    const started = yield* Clock.currentTimeMillis
    const backend = yield* makeRealBackend({
      storageDir: join(config.dataDir, "backend"),
      network,
      veilid: { readyTimeout: Duration.seconds(config.attachTimeoutSeconds) },
      // Members replicate each other's files: each loaded group follows its members'
      // repos and fetches what changed, at most one pass per interval.
      autoSync:
        config.syncIntervalSeconds === 0
          ? false
          : { minInterval: Duration.seconds(config.syncIntervalSeconds) },
    })
    const attachedAt = yield* Clock.currentTimeMillis
    yield* Effect.logInfo("network attached").pipe(
      Effect.annotateLogs({ afterMillis: attachedAt - started }),
    )
    yield* Effect.addFinalizer(() => Effect.logInfo("closing groups, removing routes"))
    const groups = yield* loadKnownGroups(backend)
    const staticDir = webDir()
    const server = yield* serve({
      backend,
      dataDir: config.dataDir,
      listen:
        config.listen._tag === "Tcp"
          ? { host: config.listen.host, port: config.listen.port }
          : { socket: config.listen.path },
      maxUploadBytes: config.maxUploadBytes,
      ...(staticDir === undefined ? {} : { staticDir }),
    })
    // The CLI connects to `unix:/path` URLs through the socket.
    const url = server.address._tag === "Socket" ? `unix:${server.address.path}` : server.url
    const readyAt = yield* Clock.currentTimeMillis
    writeState(config.dataDir, {
      pid: process.pid,
      url,
      startedAt: new Date(readyAt).toISOString(),
      version: VERSION,
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => clearState(config.dataDir)))
    yield* Effect.logInfo("ready").pipe(
      Effect.annotateLogs({
        url,
        groups,
        ui: staticDir !== undefined,
        afterMillis: readyAt - started,
      }),
    )
    return { backend, url }
  })
