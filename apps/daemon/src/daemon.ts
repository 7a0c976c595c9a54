import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import {
  Backend,
  type BackendConfig,
  type BackendShape,
  type UnlockedStorage,
} from "@save-dweb/backend"
import { serve } from "@save-dweb/rpc-server"
import { serveSaveAppApi } from "@save-dweb/save-app-api"
import { Clock, Context, Deferred, Duration, Effect, Layer } from "effect"
import type { DaemonConfig, Listen, Network } from "./config.ts"
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

/**
 * What the daemon needs besides its config: how a network choice becomes the backend's,
 * and the storage key of a data dir locked with a passphrase (`unlockStorage`).
 */
export interface DaemonEnvironment {
  readonly network: (choice: Network) => Effect.Effect<NonNullable<BackendConfig["network"]>, Error>
  readonly storage?: UnlockedStorage | undefined
}

/** Where the daemon's backend keeps its stores (and its passphrase lock). */
export const backendDir = (dataDir: string) => join(dataDir, "backend")

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

const listenOn = (listen: Listen) =>
  listen._tag === "Tcp" ? { host: listen.host, port: listen.port } : { socket: listen.path }

/**
 * The Save app's API (opt-in, no token), listening before the backend starts so the app's
 * start-up checks see the daemon starting (`/health/ready` 503) rather than no server.
 */
const startSaveAppApi = (config: DaemonConfig, listen: Listen) =>
  Effect.gen(function* () {
    const backend = yield* Deferred.make<BackendShape>()
    const served = yield* serveSaveAppApi({
      listen: listenOn(listen),
      backend,
      dataDir: config.dataDir,
      version: VERSION,
      maxUploadBytes: config.maxUploadBytes,
    })
    const url = served.address._tag === "Socket" ? `unix:${served.address.path}` : served.url
    yield* Effect.logInfo("Save app API listening (no token)").pipe(Effect.annotateLogs({ url }))
    return backend
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
        locked: environment.storage !== undefined,
        version: VERSION,
      }),
    )
    const saveApp =
      config.saveAppApi === undefined
        ? undefined
        : yield* startSaveAppApi(config, config.saveAppApi)
    const network = yield* environment.network(config.network)
    const started = yield* Clock.currentTimeMillis
    // Built in this scope: closing it stops the backend after the server.
    const backendLayer = Backend.layer({
      storageDir: backendDir(config.dataDir),
      network,
      ...(environment.storage === undefined ? {} : { storage: environment.storage }),
      veilid: { readyTimeout: Duration.seconds(config.attachTimeoutSeconds) },
      // Members replicate each other's files: each loaded group follows its members'
      // repos and fetches what changed, at most one pass per interval.
      autoSync:
        config.syncIntervalSeconds === 0
          ? false
          : { minInterval: Duration.seconds(config.syncIntervalSeconds) },
    })
    const backend = Context.get(yield* Layer.build(backendLayer), Backend)
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
      listen: listenOn(config.listen),
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
    if (saveApp !== undefined) yield* Deferred.succeed(saveApp, backend)
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
