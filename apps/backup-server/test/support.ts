// Backup servers and members' backends on in-memory networks (DHT, tunnels, blob stores).
// What a node keeps across a restart (its DHT participant, blob store, table stores)
// outlives the servers and backends made on it.

import {
  type BackendShape,
  type BackupsShape,
  type KnownGroupsStore,
  makeBackend,
  makeBackups,
  memoryKnownGroups,
} from "@save-dweb/backend"
import { BlobStore, type BlobStoreService, layerMemory } from "@save-dweb/blob-store"
import { makeDataRepos } from "@save-dweb/data-repo"
import {
  type DhtBackend,
  MemoryDhtNetwork,
  type MemoryDhtNetworkShape,
  makeDhtRecords,
} from "@save-dweb/dht-records"
import { makeGroups } from "@save-dweb/group"
import { MemoryNetwork, type MemoryNetworkShape, makeTunnelsMemory } from "@save-dweb/tunnels"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import {
  type BackupServerOptions,
  type BackupServerShape,
  makeBackupServer,
  memoryServerState,
  type ServerStateStore,
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

/** What survives a restart of one node. */
export interface MemoryNode {
  readonly dht: DhtBackend
  readonly store: BlobStoreService
  readonly known: KnownGroupsStore
  readonly state: ServerStateStore
}

export const memoryNode = (nets: Networks): Effect.Effect<MemoryNode, never, Scope.Scope> =>
  Effect.gen(function* () {
    const dht = yield* nets.dht.participant
    const store = Context.get(yield* Layer.build(layerMemory()), BlobStore)
    return { dht, store, known: memoryKnownGroups(), state: memoryServerState() }
  })

/** Something running in a scope of its own, so a test can stop it and start another. */
export interface Running<A> {
  readonly value: A
  readonly stop: Effect.Effect<void>
}

const inOwnScope = <A, E>(make: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make("sequential")
    const stop = Scope.close(scope, Exit.void)
    yield* Effect.addFinalizer(() => stop)
    const value = yield* Scope.provide(scope)(make)
    const running: Running<A> = { value, stop }
    return running
  })

export const startServer = (nets: Networks, node: MemoryNode, options: BackupServerOptions = {}) =>
  inOwnScope(
    Effect.gen(function* () {
      const records = yield* makeDhtRecords(node.dht)
      const tunnels = yield* makeTunnelsMemory().pipe(
        Effect.provideService(MemoryNetwork, nets.tunnels),
        Effect.orDie,
      )
      const server: BackupServerShape = yield* makeBackupServer(
        {
          records,
          tunnels,
          groups: makeGroups(records),
          repos: makeDataRepos(records, node.store, { tunnels, syncState: node.state.roots }),
          store: node.store,
          known: node.known,
          state: node.state,
        },
        { minSyncInterval: "10 millis", restartDelay: "50 millis", ...options },
      )
      return server
    }),
  )

export interface Member {
  readonly backend: BackendShape
  readonly backups: BackupsShape
}

/** A member's backend (with the backup calls) on `node`. */
export const startMember = (nets: Networks, node: MemoryNode) =>
  inOwnScope(
    Effect.gen(function* () {
      const records = yield* makeDhtRecords(node.dht)
      const tunnels = yield* makeTunnelsMemory().pipe(
        Effect.provideService(MemoryNetwork, nets.tunnels),
        Effect.orDie,
      )
      const repos = makeDataRepos(records, node.store, { tunnels })
      const backend = yield* makeBackend({
        storageDir: "(memory)",
        groups: makeGroups(records),
        repos,
        store: node.store,
        known: node.known,
        tunnels,
      })
      const member: Member = {
        backend,
        backups: makeBackups({ repos, tunnels, loadGroup: backend.loadGroup }),
      }
      return member
    }),
  )
