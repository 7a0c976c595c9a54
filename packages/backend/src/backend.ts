// The backend service: wiring of the node's services and the backend's operations, each
// of one concern in its own module (group registry, files, members, rotations, pairing,
// events, status, backups).
import type { BlobStoreService } from "@save-dweb/blob-store"
import type { DataReposShape } from "@save-dweb/data-repo"
import type { GroupsShape } from "@save-dweb/group"
import type { TunnelsShape } from "@save-dweb/tunnels"
import { Context, type Duration, Effect, Layer, type Scope } from "effect"
import { makeBackups } from "./backups.ts"
import { makeCopyOperations } from "./copies.ts"
import { makeEventHub } from "./events.ts"
import { makeFileOperations } from "./files.ts"
import { makeGroupRegistry } from "./group-registry.ts"
import type { KnownGroupsStore } from "./known-groups.ts"
import { makeMemberOperations } from "./members.ts"
import { makeNode, type NetworkStatus, type NodeConfig, type NodeError } from "./node.ts"
import { makePairing } from "./pairing.ts"
import { makeRotations } from "./rotation.ts"
import type { AutoSync, BackendShape } from "./shape.ts"
import { makeStatus } from "./status.ts"
import { sweepStore } from "./sweep.ts"
import { makeTransportOperations } from "./transport.ts"

export interface BackendConfig extends NodeConfig {
  /** Keep every loaded group synced in the background (see `BackendServices.autoSync`). */
  readonly autoSync?: AutoSync
  /** How often own files below their group's copy target are checked (default 1 minute). */
  readonly copiesCheckEvery?: Duration.Input
}

/** What `makeBackend` composes; `Backend.layer` builds them on real nodes. */
export interface BackendServices {
  readonly storageDir: string
  readonly groups: GroupsShape
  readonly repos: DataReposShape
  readonly store: BlobStoreService
  readonly known: KnownGroupsStore
  /** Publishes this node's route in its repos; without it repos carry no route. */
  readonly tunnels?: TunnelsShape
  /** This node's network for `status`; without it `status` reports none. */
  readonly network?: { readonly status: Effect.Effect<NetworkStatus> }
  readonly autoSync?: AutoSync
  /** How often own files below their group's copy target are checked (default 1 minute). */
  readonly copiesCheckEvery?: Duration.Input
}

/**
 * The backend over given services, in the current scope: closing it closes every loaded
 * group first (each repo clears its route while the network is still up).
 */
export const makeBackend = (
  services: BackendServices,
): Effect.Effect<BackendShape, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { repos, store, known, tunnels } = services
    const events = yield* makeEventHub
    const registry = yield* makeGroupRegistry({
      groups: services.groups,
      repos,
      known,
      tunnels,
      events,
      autoSync: services.autoSync ?? false,
    })
    const backend: BackendShape = {
      storageDir: services.storageDir,
      createGroup: registry.createGroup,
      joinGroup: registry.joinGroup,
      loadGroup: registry.loadGroup,
      listGroups: registry.listGroups,
      closeGroup: registry.closeGroup,
      forgetGroup: registry.forgetGroup,
      renameGroup: registry.renameGroup,
      source: store.source(),
      status: makeStatus({ known, store, registry, network: services.network }),
      events: events.events,
      subscribe: events.subscribe,
      ...makeMemberOperations({ registry, tunnels }),
      ...makeTransportOperations(registry),
      ...(yield* makeRotations({ registry, repos, store, events, known, tunnels })),
      ...makeFileOperations({ loadGroup: registry.loadGroup, events }),
      ...makePairing({ known, registry }),
      ...makeBackups({
        repos,
        known,
        tunnels,
        loadGroup: registry.loadGroup,
        listGroups: registry.listGroups,
      }),
      ...(yield* makeCopyOperations({
        registry,
        repos,
        known,
        events,
        tunnels,
        checkEvery: services.copiesCheckEvery,
      })),
    }
    return backend
  })

/**
 * The seeds' backend core: one Veilid node, one Iroh store, known groups and their
 * loaded handles. Building the layer is `start`; closing its scope is `stop` (groups
 * close first, clearing their routes, then Iroh and Veilid shut down).
 */
export const makeRealBackend = (
  config: BackendConfig,
): Effect.Effect<BackendShape, NodeError, Scope.Scope> =>
  Effect.gen(function* () {
    const node = yield* makeNode(config)
    // Before any group loads: nothing writes or syncs while the store is swept.
    yield* sweepStore(node)
    return yield* makeBackend({
      storageDir: config.storageDir,
      ...node,
      ...(config.autoSync === undefined ? {} : { autoSync: config.autoSync }),
      ...(config.copiesCheckEvery === undefined
        ? {}
        : { copiesCheckEvery: config.copiesCheckEvery }),
    })
  })

export class Backend extends Context.Service<Backend, BackendShape>()(
  "@save-dweb/backend/Backend",
) {
  /** Starts the backend (Veilid, Iroh, table store); stops it when the layer's scope closes. */
  static readonly layer = (config: BackendConfig): Layer.Layer<Backend, NodeError> =>
    Layer.effect(Backend, makeRealBackend(config))
}
