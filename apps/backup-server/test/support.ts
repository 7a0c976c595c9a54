// Backup servers and members' backends on in-memory networks (DHT, tunnels, blob stores).
// What a node keeps across a restart (its DHT participant, blob store, table stores)
// outlives the servers and backends made on it.

import {
  type BackendShape,
  type BackupsShape,
  type KnownGroupsStore,
  makeBackend,
  makeBackups,
  makeNodeWith,
  memoryKnownGroups,
  type NodeParts,
} from "@save-dweb/backend"
import { BlobStore, type BlobStoreService, layerMemory } from "@save-dweb/blob-store"
import {
  type DhtBackend,
  MemoryDhtNetwork,
  type MemoryDhtNetworkShape,
} from "@save-dweb/dht-records"
import { MemoryNetwork, type MemoryNetworkShape, makeTunnelsMemory } from "@save-dweb/tunnels"
import { Context, Duration, Effect, Exit, Layer, Schedule, Scope } from "effect"
import {
  type BackupServerOptions,
  type BackupServerShape,
  makeBackupServer,
  memoryServerState,
  type ServerStateStore,
} from "../src/index.ts"

export { bytesOf, failureOf, pattern } from "@save-dweb/test-support"

/** `check` again every 20 ms until it holds, for at most 10 s (memory networks are quick). */
export const until = <E, R>(what: string, check: Effect.Effect<boolean, E, R>) =>
  check.pipe(
    Effect.filterOrFail(
      (ok) => ok,
      () => new Error(`not yet: ${what}`),
    ),
    Effect.retry(Schedule.spaced(Duration.millis(20))),
    Effect.timeoutOrElse({
      duration: Duration.seconds(10),
      orElse: () => Effect.die(new Error(`${what}: not within 10 s`)),
    }),
  )

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

/** The node's services on the memory networks, over what survives its restarts. */
const partsOf = (nets: Networks, node: MemoryNode): NodeParts<never> => ({
  dht: node.dht,
  tunnels: Effect.orDie(
    makeTunnelsMemory().pipe(Effect.provideService(MemoryNetwork, nets.tunnels)),
  ),
  store: Effect.succeed(node.store),
  known: Effect.succeed(node.known),
})

export const startServer = (nets: Networks, node: MemoryNode, options: BackupServerOptions = {}) =>
  inOwnScope(
    Effect.gen(function* () {
      const services = yield* makeNodeWith({
        ...partsOf(nets, node),
        state: Effect.succeed(node.state),
      })
      const server: BackupServerShape = yield* makeBackupServer(services, {
        minSyncInterval: "10 millis",
        restartDelay: "50 millis",
        ...options,
      })
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
      const services = yield* makeNodeWith(partsOf(nets, node))
      const backend = yield* makeBackend({ storageDir: "(memory)", ...services })
      const member: Member = {
        backend,
        backups: makeBackups({
          ...services,
          loadGroup: backend.loadGroup,
          listGroups: backend.listGroups,
        }),
      }
      return member
    }),
  )
