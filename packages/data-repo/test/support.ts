// Participants on one in-memory DHT, each with its own in-memory blob store.
import { BlobStore, type BlobStoreService, layerMemory } from "@save-dweb/blob-store"
import {
  type DhtRecordsShape,
  type MemoryDhtNetworkShape,
  makeMemoryDhtRecords,
} from "@save-dweb/dht-records"
import { type GroupsShape, makeGroups } from "@save-dweb/group"
import { Context, Effect, Layer, type Scope, Stream } from "effect"
import { type DataReposShape, makeDataRepos } from "../src/index.ts"

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

/** The failure of `effect`, or a defect if it succeeds. */
export const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.result(effect), (result) =>
    result._tag === "Failure"
      ? Effect.succeed(result.failure)
      : Effect.die(new Error("expected a failure, got a success")),
  )

export const bytesOf = <E, R>(stream: Stream.Stream<Uint8Array, E, R>) =>
  Stream.runFold(
    stream,
    () => new Uint8Array(0),
    (acc, chunk) => {
      const out = new Uint8Array(acc.length + chunk.length)
      out.set(acc)
      out.set(chunk, acc.length)
      return out
    },
  )

/** `size` bytes of a repeating pattern, handed over in uneven chunks. */
export const pattern = (size: number, seed = 7): Uint8Array =>
  Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed) & 0xff)

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
