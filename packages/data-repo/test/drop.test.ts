// A member drops one file of another member's repo that it synced: `unpin` frees the blob,
// later syncs hold the repo's collection without it and do not fetch it again, across a
// restart too; `pin` takes it back; the owner's delete ends the drop.
import { assert, describe, it } from "@effect/vitest"
import { BlobStore, layerMemory, type Source } from "@save-dweb/blob-store"
import {
  MemoryDhtNetwork,
  type MemoryDhtNetworkShape,
  makeMemoryDhtRecords,
} from "@save-dweb/dht-records"
import { makeGroups } from "@save-dweb/group"
import { Context, Effect, Layer, Stream } from "effect"
import {
  type DataReposShape,
  makeDataRepos,
  memorySyncState,
  type SyncStateStore,
} from "../src/index.ts"
import { pattern } from "./support.ts"

const memoryStore = Effect.map(Layer.build(layerMemory()), (c) => Context.get(c, BlobStore))

const node = (
  net: MemoryDhtNetworkShape,
  store: Context.Service.Shape<typeof BlobStore>,
  syncState: SyncStateStore,
) =>
  Effect.map(makeMemoryDhtRecords(net), (records) => ({
    groups: makeGroups(records),
    repos: makeDataRepos(records, store, { syncState }),
  }))

const setup = Effect.gen(function* () {
  const net = yield* MemoryDhtNetwork.make()
  const aliceStore = yield* memoryStore
  const alice = yield* node(net, aliceStore, memorySyncState())
  const group = yield* alice.groups.create("g", { memberName: "Alice" })
  const repo = yield* alice.repos.create(group, { name: "Alice" })
  const one = yield* repo.write("one", Stream.make(pattern(40_000, 1)))
  const two = yield* repo.write("two", Stream.make(pattern(40_000, 2)))
  const sources: ReadonlyArray<Source> = [yield* aliceStore.source()]
  const store = yield* memoryStore
  const state = memorySyncState()
  const bob = yield* node(net, store, state)
  const bobGroup = yield* bob.groups.join(yield* group.invite("read"))
  const sync = (repos: DataReposShape = bob.repos, g = bobGroup) =>
    repos.syncAll(g, { ownerSources: () => sources })
  return { net, group, repo, one, two, sources, store, state, bob, bobGroup, sync }
})

describe("dropping a synced file", () => {
  it.live("unpin frees it, a later sync does not fetch it again, pin brings it back", () =>
    Effect.gen(function* () {
      const { repo, one, two, sources, store, state, bob, bobGroup, group, sync } = yield* setup
      yield* sync()
      const theirs = yield* bob.repos.open(bobGroup, repo.key)
      assert.isTrue(yield* store.has(one.hash))

      yield* theirs.unpin("one")
      assert.isFalse(yield* store.has(one.hash))
      assert.isTrue(yield* store.has(two.hash))
      assert.deepStrictEqual(
        [...((yield* state.load(group.key)).dropped?.get(repo.key) ?? [])],
        [one.hash],
      )

      // Unchanged repo, then a new file: neither pass brings the dropped one back.
      yield* sync()
      assert.isFalse(yield* store.has(one.hash))
      const three = yield* repo.write("three", Stream.make(pattern(30_000, 3)))
      const result = yield* sync()
      assert.isTrue(result.synced.has(repo.key))
      assert.isTrue(yield* store.has(three.hash))
      assert.isFalse(yield* store.has(one.hash))
      const listed = new Map((yield* theirs.list()).map((f) => [f.name, f]))
      assert.strictEqual(listed.get("one")?.status, "remote-only")
      assert.strictEqual(listed.get("two")?.status, "local")
      assert.isFalse(listed.get("two")?.pinned)

      // Keep here: fetched again, pinned, no longer dropped.
      yield* theirs.pin("one", { sources })
      assert.isTrue(yield* store.has(one.hash))
      const after = new Map((yield* theirs.list()).map((f) => [f.name, f]))
      assert.strictEqual(after.get("one")?.status, "local")
      assert.isTrue(after.get("one")?.pinned)
      assert.strictEqual((yield* state.load(group.key)).dropped?.size, 0)
      yield* sync()
      assert.isTrue(yield* store.has(one.hash))
    }).pipe(Effect.scoped),
  )

  it.live("pin of a synced file marks it pinned; unpin then drops it", () =>
    Effect.gen(function* () {
      const { repo, two, store, bob, bobGroup, sync } = yield* setup
      yield* sync()
      const theirs = yield* bob.repos.open(bobGroup, repo.key)
      yield* theirs.pin("two")
      const listed = new Map((yield* theirs.list()).map((f) => [f.name, f]))
      assert.isTrue(listed.get("two")?.pinned)
      yield* theirs.unpin("two")
      assert.isFalse(yield* store.has(two.hash))
      const after = new Map((yield* theirs.list()).map((f) => [f.name, f]))
      assert.strictEqual(after.get("two")?.status, "remote-only")
      assert.isFalse(after.get("two")?.pinned)
    }).pipe(Effect.scoped),
  )

  it.live("the drop outlives a restart, and ends with the owner's delete", () =>
    Effect.gen(function* () {
      const { net, repo, one, two, store, state, bob, bobGroup, group, sync } = yield* setup
      yield* sync()
      yield* (yield* bob.repos.open(bobGroup, repo.key)).unpin("one")

      // A second instance on the same store and state, after a change of the owner's.
      yield* repo.write("three", Stream.make(pattern(30_000, 3)))
      const again = yield* node(net, store, state)
      const againGroup = yield* again.groups.open(bobGroup.credentials)
      const kept = yield* Effect.map(store.list(), (roots) => roots.map((r) => r.hash))
      const freedAtStart = yield* again.repos.sweep({ groups: [group.key], keep: [] })
      assert.deepStrictEqual(freedAtStart, [])
      assert.deepStrictEqual(
        yield* Effect.map(store.list(), (roots) => roots.map((r) => r.hash)),
        kept,
      )
      yield* sync(again.repos, againGroup)
      assert.isFalse(yield* store.has(one.hash))
      assert.isTrue(yield* store.has(two.hash))

      yield* repo.delete("one")
      yield* sync(again.repos, againGroup)
      assert.strictEqual((yield* state.load(group.key)).dropped?.size, 0)
      assert.isTrue(yield* store.has(two.hash))
    }).pipe(Effect.scoped),
  )
})
