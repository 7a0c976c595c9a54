// Pins of other members' files tracked per (group, repo, hash): a sync that sees the owner's
// new manifest drops the ones it no longer names; the tracking and held roots survive a
// restart; the start-up sweep frees whatever nothing references.
import { assert, describe, it } from "@effect/vitest"
import { BlobStore, type BlobStoreService, layerMemory, type Source } from "@save-dweb/blob-store"
import {
  MemoryDhtNetwork,
  type MemoryDhtNetworkShape,
  makeMemoryDhtRecords,
} from "@save-dweb/dht-records"
import { makeGroups } from "@save-dweb/group"
import { Context, Effect, Layer, Stream } from "effect"
import {
  emptyHeldState,
  makeDataRepos,
  memorySyncState,
  type SyncStateStore,
} from "../src/index.ts"
import { pattern } from "./support.ts"

/** A participant whose store and sync state may outlive it (a restart). */
const node = (
  net: MemoryDhtNetworkShape,
  options: { readonly store?: BlobStoreService; readonly syncState?: SyncStateStore } = {},
) =>
  Effect.gen(function* () {
    const records = yield* makeMemoryDhtRecords(net)
    const store = options.store ?? Context.get(yield* Layer.build(layerMemory()), BlobStore)
    const repos = makeDataRepos(
      records,
      store,
      options.syncState === undefined ? {} : { syncState: options.syncState },
    )
    return { groups: makeGroups(records), store, repos }
  })

const memoryStore = Effect.map(Layer.build(layerMemory()), (c) => Context.get(c, BlobStore))

const setup = Effect.gen(function* () {
  const net = yield* MemoryDhtNetwork.make()
  const alice = yield* node(net)
  const group = yield* alice.groups.create("g", { memberName: "Alice" })
  const repo = yield* alice.repos.create(group, { name: "Alice" })
  const one = yield* repo.write("one", Stream.make(pattern(40_000, 1)))
  const two = yield* repo.write("two", Stream.make(pattern(40_000, 2)))
  const sources: ReadonlyArray<Source> = [yield* alice.store.source()]
  const options = { ownerSources: () => sources }
  return { net, alice, group, repo, one, two, sources, options }
})

const roots = (store: BlobStoreService) =>
  Effect.map(store.list(), (all) => all.map((r) => r.hash).sort())

describe("pins of other members' files", () => {
  it.live("a downloaded file is gone after the owner deletes it and the member syncs", () =>
    Effect.gen(function* () {
      const { net, group, repo, one, two, sources, options } = yield* setup
      const bob = yield* node(net)
      const bobGroup = yield* bob.groups.join(yield* group.invite("write"), { memberName: "Bob" })
      const theirs = yield* bob.repos.open(bobGroup, repo.key)
      yield* theirs.pin("one", { sources })
      yield* theirs.pin("two", { sources })
      assert.isTrue(yield* bob.store.has(one.hash))

      yield* repo.delete("one")
      const result = yield* bob.repos.syncAll(bobGroup, options)
      assert.include(result.freed, one.hash)
      assert.isFalse(yield* bob.store.has(one.hash))
      // The file still listed stays pinned; the old manifest's pin went with the delete.
      const root = result.synced.get(repo.key)
      assert.isDefined(root)
      assert.deepStrictEqual(yield* roots(bob.store), [root, two.hash].sort())
    }).pipe(Effect.scoped),
  )

  it.live("a file pinned and synced is gone too, and unpin forgets the pin and the copy", () =>
    Effect.gen(function* () {
      const { net, group, repo, one, two, sources, options } = yield* setup
      const state = memorySyncState()
      const bob = yield* node(net, { syncState: state })
      const bobGroup = yield* bob.groups.join(yield* group.invite("read"))
      const theirs = yield* bob.repos.open(bobGroup, repo.key)
      yield* theirs.pin("one", { sources })
      yield* theirs.pin("two", { sources })
      yield* bob.repos.syncAll(bobGroup, options)
      yield* theirs.unpin("two")
      assert.deepStrictEqual(
        [...((yield* state.load(group.key)).pins.get(repo.key) ?? [])].filter(
          (h) => h === one.hash || h === two.hash,
        ),
        [one.hash],
      )
      // The synced collection lets it go too (test/drop.test.ts).
      assert.isFalse(yield* bob.store.has(two.hash))

      yield* repo.delete("one")
      yield* bob.repos.syncAll(bobGroup, options)
      assert.isFalse(yield* bob.store.has(one.hash))
      assert.isFalse(yield* bob.store.has(two.hash))
      assert.deepStrictEqual([...(yield* state.load(group.key)).pins], [])
    }).pipe(Effect.scoped),
  )

  it.live("a pin made by an earlier process is dropped by a later one's sync", () =>
    Effect.gen(function* () {
      const { net, group, repo, one, options, sources } = yield* setup
      const store = yield* memoryStore
      const state = memorySyncState()
      const first = yield* node(net, { store, syncState: state })
      const firstGroup = yield* first.groups.join(yield* group.invite("read"))
      yield* (yield* first.repos.open(firstGroup, repo.key)).pin("one", { sources })

      yield* repo.delete("one")
      const second = yield* node(net, { store, syncState: state })
      const secondGroup = yield* second.groups.open(firstGroup.credentials)
      const result = yield* second.repos.syncAll(secondGroup, options)
      assert.include(result.freed, one.hash)
      assert.isFalse(yield* store.has(one.hash))
    }).pipe(Effect.scoped),
  )

  it.live("purging a group drops its pins too", () =>
    Effect.gen(function* () {
      const { net, group, repo, one, sources } = yield* setup
      const bob = yield* node(net)
      const bobGroup = yield* bob.groups.join(yield* group.invite("read"))
      yield* (yield* bob.repos.open(bobGroup, repo.key)).pin("one", { sources })
      const freed = yield* bob.repos.purge(group.key)
      assert.include(freed, one.hash)
      assert.deepStrictEqual(yield* roots(bob.store), [])
    }).pipe(Effect.scoped),
  )
})

describe("sweep", () => {
  it.live("frees what nothing references: not own roots, held roots or tracked pins", () =>
    Effect.gen(function* () {
      const { net, group, repo, one, two, sources, options } = yield* setup
      const store = yield* memoryStore
      const state = memorySyncState()
      const first = yield* node(net, { store, syncState: state })
      const firstGroup = yield* first.groups.join(yield* group.invite("write"))
      const mine = yield* first.repos.create(firstGroup, { name: "Mine" })
      const own = yield* mine.write("own", Stream.make(pattern(30_000, 5)))
      yield* (yield* first.repos.open(firstGroup, repo.key)).pin("one", { sources })
      yield* first.repos.syncAll(firstGroup, options)
      // What a process killed mid-write or mid-sync leaves: a loose pin, a fetched collection
      // no state names, and the state of a group it no longer belongs to.
      const orphan = yield* store.addBytes(pattern(20_000, 9))
      yield* repo.write("three", Stream.make(pattern(40_000, 3)))
      const unsaved = yield* repo.pointer
      assert.isTrue(unsaved._tag === "Some")
      if (unsaved._tag !== "Some") return
      yield* store.fetch({ hash: unsaved.value.root, kind: "collection", sources })
      yield* state.save("VLD0:gone", {
        ...emptyHeldState,
        roots: new Map([["VLD0:repo", unsaved.value.root]]),
      })

      // The restart: a new instance on the same store and state sweeps before anything else.
      const second = yield* node(net, { store, syncState: state })
      const ownRoot = yield* mine.pointer
      if (ownRoot._tag !== "Some") return assert.fail("own repo has a root")
      const freed = yield* second.repos.sweep({
        groups: [group.key],
        keep: [ownRoot.value.root],
      })
      assert.include(freed, orphan)
      assert.include(freed, unsaved.value.root)
      assert.isFalse(yield* store.has(orphan))
      assert.isFalse(state.saved.has("VLD0:gone"))
      for (const hash of [own.hash, one.hash, two.hash]) assert.isTrue(yield* store.has(hash))
      const held = yield* state.load(group.key)
      // The file and the manifest it was listed from.
      assert.strictEqual(held.pins.get(repo.key)?.size, 2)
      assert.isTrue(held.pins.get(repo.key)?.has(one.hash))
      assert.deepStrictEqual(
        yield* roots(store),
        [
          ownRoot.value.root,
          ...held.roots.values(),
          ...[...held.pins.values()].flatMap((hashes) => [...hashes]),
        ].sort(),
      )
    }).pipe(Effect.scoped),
  )
})
