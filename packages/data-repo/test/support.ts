// Participants on one in-memory DHT, each with its own in-memory blob store.
import { BlobStore, type BlobStoreService, layerMemory } from "@save-dweb/blob-store"
import {
  type DhtRecordsShape,
  MemoryDhtNetwork,
  type MemoryDhtNetworkShape,
  makeMemoryDhtRecords,
} from "@save-dweb/dht-records"
import { type GroupsShape, makeGroups } from "@save-dweb/group"
import { MemoryNetwork, type MemoryNetworkShape, makeTunnelsMemory } from "@save-dweb/tunnels"
import { Context, Effect, Layer, type Scope, Stream } from "effect"
import { type DataReposShape, makeDataRepos } from "../src/index.ts"

export { bytesOf, failureOf, pattern } from "@save-dweb/test-support"

export interface Participant {
  readonly records: DhtRecordsShape
  readonly groups: GroupsShape
  readonly store: BlobStoreService
  readonly repos: DataReposShape
}

export const participant = (
  network: MemoryDhtNetworkShape,
): Effect.Effect<Participant, never, Scope.Scope> =>
  Effect.gen(function* () {
    const records = yield* makeMemoryDhtRecords(network)
    const store = Context.get(yield* Layer.build(layerMemory()), BlobStore)
    return { records, groups: makeGroups(records), store, repos: makeDataRepos(records, store) }
  })

export const chunked = (bytes: Uint8Array, chunk = 10_000) =>
  Stream.fromIterable(
    Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, i) =>
      bytes.subarray(i * chunk, (i + 1) * chunk),
    ),
  )

export const contains = (haystack: Uint8Array, needle: Uint8Array): boolean => {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return true
  }
  return false
}

/** One memory DHT and one memory network for tunnels, shared by the participants. */
export const networks = Effect.gen(function* () {
  const dht = yield* MemoryDhtNetwork.make()
  const net = Context.get(yield* Layer.build(MemoryNetwork.layer()), MemoryNetwork)
  return { dht, net }
})

/** A participant with its own DHT view, memory store and tunnels node. */
export const person = (dht: MemoryDhtNetworkShape, net: MemoryNetworkShape) =>
  Effect.gen(function* () {
    const records = yield* makeMemoryDhtRecords(dht)
    const store = Context.get(yield* Layer.build(layerMemory()), BlobStore)
    const tunnels = yield* makeTunnelsMemory().pipe(Effect.provideService(MemoryNetwork, net))
    return {
      records,
      groups: makeGroups(records),
      store,
      tunnels,
      repos: makeDataRepos(records, store, { tunnels }),
    }
  })
