// Sources found by themselves over the memory layers: each member serves its store on its
// own tunnel, fetchers find it through the route in the repo record.
import { assert, describe, it } from "@effect/vitest"
import { BlobStore, layerMemory } from "@save-dweb/blob-store"
import {
  MemoryDhtNetwork,
  type MemoryDhtNetworkShape,
  makeMemoryDhtRecords,
} from "@save-dweb/dht-records"
import { makeGroups } from "@save-dweb/group"
import { MemoryNetwork, type MemoryNetworkShape, makeTunnelsMemory } from "@save-dweb/tunnels"
import { Context, Effect, Layer, Option, Stream } from "effect"
import { makeDataRepos } from "../src/index.ts"
import { bytesOf, failureOf, pattern } from "./support.ts"

/** A participant with its own DHT view, memory store and tunnels node. */
const person = (dht: MemoryDhtNetworkShape, net: MemoryNetworkShape) =>
  Effect.gen(function* () {
    const records = yield* makeMemoryDhtRecords(dht)
    const store = Context.get(yield* Layer.build(layerMemory()), BlobStore)
    const tunnels = yield* makeTunnelsMemory().pipe(Effect.provideService(MemoryNetwork, net))
    return {
      groups: makeGroups(records),
      store,
      tunnels,
      repos: makeDataRepos(records, store, { tunnels }),
    }
  })

const networks = Effect.gen(function* () {
  const dht = yield* MemoryDhtNetwork.make()
  const net = Context.get(yield* Layer.build(MemoryNetwork.layer()), MemoryNetwork)
  return { dht, net }
})

describe("sources found through routes", () => {
  it.live("another member reads a file with no sources given, over the owner's tunnel", () =>
    Effect.gen(function* () {
      const { dht, net } = yield* networks
      const alice = yield* person(dht, net)
      const group = yield* alice.groups.create("g", { memberName: "Alice" })
      const repo = yield* alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels })
      const bytes = pattern(150_000, 3)
      const file = yield* repo.write("f.bin", Stream.make(bytes))

      const bob = yield* person(dht, net)
      const bobGroup = yield* bob.groups.join(yield* group.invite("read"))
      const theirs = yield* bob.repos.open(bobGroup, repo.key)
      // A memory store has no Iroh node to tell: the tunnel is the only source.
      assert.deepStrictEqual(
        (yield* theirs.list()).map((f) => [f.name, f.status]),
        [["f.bin", "remote-only"]],
      )
      assert.deepStrictEqual(yield* bytesOf(theirs.read("f.bin")), bytes)
      assert.isTrue(yield* bob.store.has(file.hash))

      // A replicate holder syncs with no sources given too.
      const backup = yield* person(dht, net)
      const backupGroup = yield* backup.groups.join(yield* group.invite("replicate"))
      const result = yield* backup.repos.syncAll(backupGroup, {})
      assert.strictEqual(result.failed.size, 0)
      const published = yield* repo.pointer
      assert.strictEqual(result.synced.get(repo.key), Option.getOrThrow(published).root)
      assert.isTrue(yield* backup.store.has(file.hash))
    }).pipe(Effect.scoped),
  )

  it.live("with the owner offline, owner-only refuses another member's copy; `any` uses it", () =>
    Effect.gen(function* () {
      for (const policy of ["owner-only", "any"] as const) {
        const { dht, net } = yield* networks
        const alice = yield* person(dht, net)
        const group = yield* alice.groups.create("g", { memberName: "Alice", sourcePolicy: policy })
        const bytes = pattern(60_000, 9)
        const invites = { carol: yield* group.invite("write"), bob: yield* group.invite("write") }
        const carol = yield* person(dht, net)
        const carolGroup = yield* carol.groups.join(invites.carol, { memberName: "Carol" })
        yield* carol.repos.create(carolGroup, { name: "Carol", tunnels: carol.tunnels })
        // Alice is online only while Carol copies her file (and any member may).
        const { key, hash } = yield* Effect.scoped(
          Effect.gen(function* () {
            const repo = yield* alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels })
            const file = yield* repo.write("f", Stream.make(bytes))
            const theirs = yield* carol.repos.open(carolGroup, repo.key)
            yield* theirs.pin("f")
            return { key: repo.key, hash: file.hash }
          }),
        )
        assert.isTrue(yield* carol.store.has(hash))

        const bob = yield* person(dht, net)
        const bobGroup = yield* bob.groups.join(invites.bob, { memberName: "Bob" })
        const theirs = yield* bob.repos.open(bobGroup, key)
        if (policy === "owner-only") {
          const error = yield* failureOf(bytesOf(theirs.read("f")))
          assert.strictEqual(error._tag, "NotLocal")
          assert.isFalse(yield* bob.store.has(hash))
          const sync = yield* bob.repos.syncAll(bobGroup, {})
          assert.strictEqual(sync.failed.get(key)?._tag, "NoSource")
        } else {
          assert.deepStrictEqual(yield* bytesOf(theirs.read("f")), bytes)
          assert.isTrue(yield* bob.store.has(hash))
        }
      }
    }).pipe(Effect.scoped),
  )
})
