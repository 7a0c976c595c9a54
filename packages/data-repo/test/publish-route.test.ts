// The route an own repo publishes, counted at the DHT: one write on open, one per renewal,
// one at close, and a close that leaves another writer's route alone.
import { assert, describe, it } from "@effect/vitest"
import { BlobStore, layerMemory } from "@save-dweb/blob-store"
import { type DhtBackend, type MemoryDhtNetworkShape, makeDhtRecords } from "@save-dweb/dht-records"
import { makeGroups } from "@save-dweb/group"
import {
  MemoryNetwork,
  type MemoryNetworkShape,
  makeTunnelsMemory,
  type TunnelsShape,
} from "@save-dweb/tunnels"
import {
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Layer,
  Option,
  Schedule,
  Scope,
  Stream,
} from "effect"
import { makeDataRepos, RepoRecord } from "../src/index.ts"
import { publishRoute } from "../src/publish-route.ts"
import { networks } from "./support.ts"

const ROUTE_SUBKEY = 2

/** A record's key without Veilid's encryption-key suffix. */
const recordOf = (key: string) => key.split(":").slice(0, 2).join(":")

/** A participant whose DHT writes are recorded as `record:subkey`. */
const person = (dht: MemoryDhtNetworkShape, net: MemoryNetworkShape) =>
  Effect.gen(function* () {
    const writes: Array<string> = []
    const backend = yield* dht.participant
    const counted: DhtBackend = {
      ...backend,
      dhtSet: (key, subkey, data, options) =>
        Effect.suspend(() => {
          writes.push(`${recordOf(key)}:${subkey}`)
          return backend.dhtSet(key, subkey, data, options)
        }),
    }
    const records = yield* makeDhtRecords(counted)
    const store = Context.get(yield* Layer.build(layerMemory()), BlobStore)
    const tunnels = yield* makeTunnelsMemory().pipe(Effect.provideService(MemoryNetwork, net))
    const routeWrites = (key: string) =>
      writes.filter((w) => w === `${recordOf(key)}:${ROUTE_SUBKEY}`).length
    return { records, groups: makeGroups(records), store, tunnels, routeWrites }
  })

const eventually = <A, E>(effect: Effect.Effect<A, E>) =>
  effect.pipe(
    Effect.retry(Schedule.spaced(Duration.millis(10))),
    Effect.timeout(Duration.seconds(5)),
  )

describe("route publishing", () => {
  it.live("opening an own repo writes the route once, a renewal once more, closing once", () =>
    Effect.gen(function* () {
      const { dht, net } = yield* networks
      const alice = yield* person(dht, net)
      const repos = makeDataRepos(alice.records, alice.store, { tunnels: alice.tunnels })
      const group = yield* alice.groups.create("g", { memberName: "Alice" })
      // The follower of route changes starts on a fiber of its own: it has started once it
      // took the route `routeChanges` starts with.
      const following = yield* Deferred.make<void>()
      const tunnels: TunnelsShape = {
        ...alice.tunnels,
        routeChanges: alice.tunnels.routeChanges.pipe(
          Stream.tap(() => Deferred.succeed(following, undefined)),
        ),
      }
      const scope = yield* Scope.make()
      const repo = yield* repos.create(group, { name: "Alice", tunnels }).pipe(Scope.provide(scope))
      yield* Deferred.await(following).pipe(Effect.timeout(Duration.seconds(5)))
      const first = yield* alice.tunnels.route
      // Routes are followed one after the other: once the renewed route is written, whatever
      // the follower made of the route it started with has been written too.
      yield* net.killRoute(first.routeId)
      const renewed = yield* eventually(
        Effect.flatMap(alice.tunnels.route, (r) =>
          r.routeId === first.routeId ? Effect.fail("not renewed yet") : Effect.succeed(r),
        ),
      )
      yield* eventually(
        Effect.flatMap(repo.routes, (routes) =>
          routes.length === 1 && Buffer.compare(routes[0] as Uint8Array, renewed.blob) === 0
            ? Effect.void
            : Effect.fail("not published yet"),
        ),
      )
      assert.strictEqual(alice.routeWrites(repo.key), 2)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(alice.routeWrites(repo.key), 3)
    }).pipe(Effect.scoped),
  )

  it.live("closing leaves a route another writer published since", () =>
    Effect.gen(function* () {
      const { dht, net } = yield* networks
      const alice = yield* person(dht, net)
      const group = yield* alice.groups.create("g", { memberName: "Alice" })
      const record = yield* alice.records.create(RepoRecord, {
        schema: { kind: "DFLT", subkeys: 4 },
        encryptionKey: group.keys.dhtValues,
      })
      yield* record.set(0, { v: 1, name: "Alice" })
      const device = yield* person(dht, net)
      const again = yield* device.records.open(RepoRecord, record.key, {
        encryptionKey: group.keys.dhtValues,
        writer: Option.getOrThrow(record.ownerKeyPair),
      })
      const routeNow = Effect.map(
        again.get(ROUTE_SUBKEY, { refresh: true }),
        (entry) => Option.getOrUndefined(entry)?.value.route,
      )

      const first = yield* Scope.make()
      yield* publishRoute(record, ROUTE_SUBKEY, alice.tunnels).pipe(Scope.provide(first))
      yield* publishRoute(again, ROUTE_SUBKEY, device.tunnels)
      yield* Scope.close(first, Exit.void)
      assert.deepStrictEqual(yield* routeNow, (yield* device.tunnels.route).blob)
      assert.strictEqual(alice.routeWrites(record.key), 1)
    }).pipe(Effect.scoped),
  )
})
