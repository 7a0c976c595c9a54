// The backup server on real layers: one Veilid node, its tunnels, one Iroh store, and its
// state in Veilid's table store, all under one data directory.
import { makeNode, type NodeError, type UnlockedStorage } from "@save-dweb/backend"
import type { IrohStoreConfig } from "@save-dweb/blob-store"
import type { VeilidLayerOptions } from "@save-dweb/veilid"
import { Effect, type Scope } from "effect"
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
  /** A data dir locked with a passphrase: its `unlockStorage` result. */
  readonly storage?: UnlockedStorage | undefined
}

/**
 * Starts the server in the current scope; closing the scope stops it: the route is
 * cleared from the descriptor record while Veilid is still attached, then groups close,
 * then Iroh, tunnels and Veilid shut down.
 */
export const makeRealBackupServer = (
  config: BackupServerConfig,
): Effect.Effect<BackupServerShape, StartError | NodeError, Scope.Scope> =>
  Effect.gen(function* () {
    const node = yield* makeNode(
      {
        storageDir: config.dataDir,
        programName: "save-dweb-backup-server",
        ...(config.network === undefined ? {} : { network: config.network }),
        ...(config.veilid === undefined ? {} : { veilid: config.veilid }),
        ...(config.iroh === undefined ? {} : { iroh: config.iroh }),
        ...(config.storage === undefined ? {} : { storage: config.storage }),
      },
      tableStoreServerState,
    )
    return yield* makeBackupServer(node, config)
  })
