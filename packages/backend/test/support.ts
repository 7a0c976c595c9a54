// Backends on in-memory networks (DHT, tunnels, blob stores). A node's DHT participant
// and known-groups store outlive its backends, so a restart is a new backend on them.
import { BlobStore, type BlobStoreService, layerMemory } from "@save-dweb/blob-store"
import { memorySyncState, type SyncStateStore } from "@save-dweb/data-repo"
import {
  type DhtBackend,
  MemoryDhtNetwork,
  type MemoryDhtNetworkShape,
} from "@save-dweb/dht-records"
import { MemoryNetwork, type MemoryNetworkShape, makeTunnelsMemory } from "@save-dweb/tunnels"
import { Context, Effect, Layer, type Scope } from "effect"
import {
  type BackendServices,
  type BackendShape,
  type KnownGroupsStore,
  makeBackend,
  makeNodeWith,
  memoryKnownGroups,
  sweepStore,
} from "../src/index.ts"

export { bytesOf, failureOf, pattern } from "@save-dweb/test-support"

export interface Networks {
  readonly dht: MemoryDhtNetworkShape
  readonly tunnels: MemoryNetworkShape
}

export const networks: Effect.Effect<Networks> = Effect.gen(function* () {
  const dht = yield* MemoryDhtNetwork.make()
  const tunnels = Context.get(yield* Layer.build(MemoryNetwork.layer()), MemoryNetwork)
  return { dht, tunnels }
}).pipe(Effect.scoped)

/**
 * What survives a restart of one node: its DHT participant (Veilid keeps local copies
 * of records on disk), its known groups and sync state (Veilid's table store) and its
 * blob store (Iroh's directory).
 */
export interface MemoryNode {
  readonly dht: DhtBackend
  readonly known: KnownGroupsStore
  readonly store: BlobStoreService
  readonly syncState: SyncStateStore
}

export const memoryNode = (nets: Networks): Effect.Effect<MemoryNode, never, Scope.Scope> =>
  Effect.gen(function* () {
    return {
      dht: yield* nets.dht.participant,
      known: memoryKnownGroups(),
      store: Context.get(yield* Layer.build(layerMemory()), BlobStore),
      syncState: memorySyncState(),
    }
  })

/** A backend on `node`, living in the current scope; it sweeps the store first, as the real one. */
export const memoryBackend = (
  nets: Networks,
  node: MemoryNode,
  options: Pick<BackendServices, "autoSync"> = {},
): Effect.Effect<BackendShape, never, Scope.Scope> =>
  Effect.gen(function* () {
    const services = yield* makeNodeWith({
      dht: node.dht,
      tunnels: Effect.orDie(
        makeTunnelsMemory().pipe(Effect.provideService(MemoryNetwork, nets.tunnels)),
      ),
      store: Effect.succeed(node.store),
      known: Effect.succeed(node.known),
      state: Effect.succeed({ roots: node.syncState }),
    })
    yield* sweepStore(services)
    return yield* makeBackend({ storageDir: "(memory)", ...services, ...options })
  })
