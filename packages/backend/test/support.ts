// Backends on in-memory networks (DHT, tunnels, blob stores). A node's DHT participant
// and known-groups store outlive its backends, so a restart is a new backend on them.
import { BlobStore, type BlobStoreService, layerMemory } from "@save-dweb/blob-store"
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
 * of records on disk) and its known groups (Veilid's table store).
 */
export interface MemoryNode {
  readonly dht: DhtBackend
  readonly known: KnownGroupsStore
  /** A blob store that outlives the node's backends (as Iroh's on disk); default a new one each. */
  readonly store?: BlobStoreService
}

const newMemoryStore = Effect.map(Layer.build(layerMemory()), (context) =>
  Context.get(context, BlobStore),
)

export const memoryNode = (
  nets: Networks,
  options: { readonly keepStore?: boolean } = {},
): Effect.Effect<MemoryNode, never, Scope.Scope> =>
  Effect.gen(function* () {
    const dht = yield* nets.dht.participant
    const known = memoryKnownGroups()
    return options.keepStore === true
      ? { dht, known, store: yield* newMemoryStore }
      : { dht, known }
  })

/** A backend on `node`, living in the current scope. */
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
      store: node.store === undefined ? newMemoryStore : Effect.succeed(node.store),
      known: Effect.succeed(node.known),
    })
    return yield* makeBackend({ storageDir: "(memory)", ...services, ...options })
  })
