// The backup server over any layers (real Veilid and Iroh in the process, memory ones in
// unit tests): its identity and descriptor record, the request protocol on its own route,
// and for each group it holds a replication loop (data-repo's keepSynced as a backup) and
// the group's blobs served to its members. It learns no name: a replicate link carries
// none, and the group's, members' and repos' names are sealed under the group secret it
// does not hold; it stores and logs groups by key only. Its identity is `identity.ts`'s,
// the groups it holds `held-groups.ts`'s (each one's loop `group-loop.ts`'s), the request
// protocol's wire side `requests.ts`'s.

import type { InvalidKnownGroup, KnownGroupsStore } from "@save-dweb/backend"
import type { BlobStoreService } from "@save-dweb/blob-store"
import { BACKUP_ROUTE_SUBKEY, type DataReposShape, publishRoute } from "@save-dweb/data-repo"
import type { DhtRecordsError, DhtRecordsShape } from "@save-dweb/dht-records"
import type { GroupsShape } from "@save-dweb/group"
import type { TunnelsShape } from "@save-dweb/tunnels"
import { type BackupDescriptor, formatLink } from "@save-dweb/uri-scheme"
import type { VeilidError } from "@save-dweb/veilid"
import { Duration, Effect, type Scope } from "effect"
import { makeGroupLoop } from "./group-loop.ts"
import { type HeldGroups, makeHeldGroups } from "./held-groups.ts"
import { openIdentity } from "./identity.ts"
import { serveRequests } from "./requests.ts"
import type { InvalidServerState, ServerStateStore } from "./state.ts"

export interface BackupServerServices {
  readonly records: DhtRecordsShape
  readonly tunnels: TunnelsShape
  readonly groups: GroupsShape
  /** Made with `syncState: state.roots` and these `tunnels`. */
  readonly repos: DataReposShape
  readonly store: BlobStoreService
  /** The groups held, with their replicate credentials (backend's store). */
  readonly known: KnownGroupsStore
  readonly state: ServerStateStore
}

export interface BackupServerOptions {
  /** The name in the descriptor link (a display hint, 1–128 UTF-8 bytes). */
  readonly name?: string
  /** Most groups held at once; more are refused with `TooManyGroups` (default 64). */
  readonly maxGroups?: number
  /** Passes of a group at least this far apart (default 1 s). */
  readonly minSyncInterval?: Duration.Input
  /** Retries of a pass with failures back off to this (default 1 min). */
  readonly maxSyncRetry?: Duration.Input
  /**
   * A pass of every group at least this often, change or not (default 30 s; `null`: only
   * on changes): a DHT watch notification that never arrives costs at most this. It is
   * the slowest of data-repo's adaptive poll: every 2 s while the group's changes come.
   */
  readonly pollInterval?: Duration.Input | null
  /** After a group's loop fails (its record unreadable), it starts again after this (10 s). */
  readonly restartDelay?: Duration.Input
}

export interface BackupServerShape extends HeldGroups {
  readonly descriptor: BackupDescriptor
  /** `save+dweb:backup?...`: give it to the people who may register groups here. */
  readonly link: string
}

export type StartError = VeilidError | InvalidServerState | InvalidKnownGroup | DhtRecordsError

const DEFAULT_MAX_GROUPS = 64

/**
 * Starts the server in the current scope: identity (made on first start), the sweep of
 * blobs no held group references, each stored group's loop, the request protocol, and its
 * route in the descriptor record (set to `null` when the scope closes, before the layers
 * below shut down).
 */
export const makeBackupServer = (
  services: BackupServerServices,
  options: BackupServerOptions = {},
): Effect.Effect<BackupServerShape, StartError, Scope.Scope> =>
  Effect.gen(function* () {
    const { records, tunnels, groups, repos, known, state } = services
    const { identity, keys, descriptor, record } = yield* openIdentity(records, state, options.name)
    const run = makeGroupLoop({
      groups,
      repos,
      tunnels,
      syncOptions: {
        asBackup: identity.record,
        minInterval: options.minSyncInterval ?? Duration.seconds(1),
        retryMax: options.maxSyncRetry ?? Duration.minutes(1),
        poll:
          options.pollInterval === null
            ? (false as const)
            : { slowest: options.pollInterval ?? Duration.seconds(30) },
      },
      restartDelay: options.restartDelay ?? Duration.seconds(10),
    })
    const held = yield* makeHeldGroups({
      groups,
      repos,
      known,
      run,
      maxGroups: options.maxGroups ?? DEFAULT_MAX_GROUPS,
    })
    yield* serveRequests(tunnels, keys.requests, held)

    // The route, published last (requests are served by then), cleared at close.
    yield* publishRoute(record, BACKUP_ROUTE_SUBKEY, tunnels, { logPrefix: "backup-server" })

    const server: BackupServerShape = { descriptor, link: formatLink(descriptor), ...held }
    return server
  })
