// The backup server on real layers: one Veilid node, its tunnels, one Iroh store, and its
// state in Veilid's table store, all under one data directory.
import { join } from "node:path"
import { tableStoreKnownGroups, veilidConfigOf } from "@save-dweb/backend"
import {
  BlobStore,
  type IrohStoreConfig,
  layer as irohLayer,
  type StoreError,
} from "@save-dweb/blob-store"
import { makeDataRepos } from "@save-dweb/data-repo"
import { makeDhtRecords } from "@save-dweb/dht-records"
import { makeGroups } from "@save-dweb/group"
import { makeTunnels, type RouteUnavailable } from "@save-dweb/tunnels"
import { makeVeilid, Veilid, type VeilidLayerOptions } from "@save-dweb/veilid"
import { Context, Effect, Layer, type Scope } from "effect"
import {
  type BackupServerOptions,
  type BackupServerShape,
  makeBackupServer,
  type StartError,
} from "./server.ts"
import { tableStoreServerState } from "./state.ts"

export interface BackupServerConfig extends BackupServerOptions {
  /** Everything the server keeps: `veilid/` (its stores) and `iroh/` (the blobs). */
  readonly dataDir: string
  /** `"public"` (default), or a full veilid-core config for a private network (a testnet). */
  readonly network?: "public" | { readonly veilidConfig: unknown }
  readonly veilid?: VeilidLayerOptions
  /** Iroh settings besides its directory. */
  readonly iroh?: Omit<IrohStoreConfig, "dir">
}

/**
 * Starts the server in the current scope; closing the scope stops it: the route is
 * cleared from the descriptor record while Veilid is still attached, then groups close,
 * then Iroh, tunnels and Veilid shut down.
 */
export const makeRealBackupServer = (
  config: BackupServerConfig,
): Effect.Effect<BackupServerShape, StartError | StoreError | RouteUnavailable, Scope.Scope> =>
  Effect.gen(function* () {
    const veilid = yield* makeVeilid(
      yield* veilidConfigOf({
        storageDir: config.dataDir,
        programName: "save-dweb-backup-server",
        ...(config.network === undefined ? {} : { network: config.network }),
      }),
      config.veilid,
    )
    const records = yield* makeDhtRecords(veilid)
    const tunnels = yield* Effect.provideService(makeTunnels(), Veilid, veilid)
    const store = Context.get(
      yield* Layer.build(irohLayer({ ...config.iroh, dir: join(config.dataDir, "iroh") })),
      BlobStore,
    )
    const known = yield* tableStoreKnownGroups(veilid)
    const state = yield* tableStoreServerState(veilid)
    return yield* makeBackupServer(
      {
        records,
        tunnels,
        groups: makeGroups(records),
        repos: makeDataRepos(records, store, { tunnels, syncState: state.roots }),
        store,
        known,
        state,
      },
      config,
    )
  })
