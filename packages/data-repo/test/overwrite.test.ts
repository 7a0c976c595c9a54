// An overwrite answers once the new version is published; the old version leaves the store
// right after, in the background. A delete, closing the handle and, for a process killed
// first, the start-up sweep each make sure it is gone.
import { assert, describe, it } from "@effect/vitest"
import { type BlobHash, BlobStore, layerMemory } from "@save-dweb/blob-store"
import { MemoryDhtNetwork, makeMemoryDhtRecords } from "@save-dweb/dht-records"
import { makeGroups } from "@save-dweb/group"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Option, Scope, Stream } from "effect"
import { makeDataRepos, type Repo } from "../src/index.ts"
import { pattern } from "./support.ts"

/**
 * Alice's repo over a memory store whose delete of `held` roots waits until `release`:
 * a disk that is slow to let the old version go (or a process killed before it did).
 */
const setup = Effect.gen(function* () {
  const net = yield* MemoryDhtNetwork.make()
  const records = yield* makeMemoryDhtRecords(net)
  const store = Context.get(yield* Layer.build(layerMemory()), BlobStore)
  const gate = yield* Deferred.make<void>()
  const held = new Set<BlobHash>()
  const gated = {
    ...store,
    delete: (hash: BlobHash) =>
      Effect.andThen(held.has(hash) ? Deferred.await(gate) : Effect.void, store.delete(hash)),
  }
  const repos = makeDataRepos(records, gated)
  const group = yield* makeGroups(records).create("g", { memberName: "Alice" })
  const root = (repo: Repo) => Effect.map(repo.pointer, (p) => Option.getOrThrow(p).root)
  return {
    store,
    records,
    repos,
    group,
    root,
    hold: (hash: BlobHash) => Effect.sync(() => void held.add(hash)),
    release: Deferred.succeed(gate, undefined),
  }
})

/** Polls `check` until it holds, failing after 2 s. */
const eventually = (what: string, check: Effect.Effect<boolean, unknown>) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 2_000
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`not within 2 s: ${what}`))
      yield* Effect.sleep(5)
    }
  })

const isRunning = <A, E>(fiber: Fiber.Fiber<A, E>) => fiber.pollUnsafe() === undefined

describe("overwriting a file", () => {
  it.live(
    "answers while the old version is still being freed; a delete waits until it is gone",
    () =>
      Effect.gen(function* () {
        const { store, repos, group, root, hold, release } = yield* setup
        const repo = yield* repos.create(group, { name: "Alice" })
        const first = yield* repo.write("f", Stream.make(pattern(40_000, 1)))
        yield* hold(yield* root(repo))
        const second = yield* repo.write("f", Stream.make(pattern(40_000, 2)))
        // Published and readable; the old bytes are still here, their free held up.
        assert.deepStrictEqual(
          (yield* repo.list()).map((f) => f.hash),
          [second.hash],
        )
        assert.isTrue(yield* store.has(first.hash))

        const deleting = yield* Effect.forkChild(repo.delete("f"))
        // The delete's own version is gone, but it does not answer before the old one is.
        yield* eventually(
          "the current version is freed",
          Effect.map(store.has(second.hash), (h) => !h),
        )
        assert.isTrue(isRunning(deleting))
        assert.isTrue(yield* store.has(first.hash))
        yield* release
        yield* Fiber.join(deleting)
        assert.isFalse(yield* store.has(first.hash))
        assert.deepStrictEqual((yield* repo.list()).length, 0)
      }).pipe(Effect.scoped),
  )

  it.live("closing the repo waits until the old version is freed", () =>
    Effect.gen(function* () {
      const { store, repos, group, root, hold, release } = yield* setup
      const scope = yield* Scope.make()
      const repo = yield* repos.create(group, { name: "Alice" }).pipe(Scope.provide(scope))
      const first = yield* repo.write("f", Stream.make(pattern(40_000, 1)))
      yield* hold(yield* root(repo))
      yield* repo.write("f", Stream.make(pattern(40_000, 2)))

      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      // Given time to finish, it does not: the free is held up.
      yield* Effect.sleep(20)
      assert.isTrue(isRunning(closing))
      assert.isTrue(yield* store.has(first.hash))
      yield* release
      yield* Fiber.join(closing)
      assert.isFalse(yield* store.has(first.hash))
    }).pipe(Effect.scoped),
  )

  it.live("killed before the old version was freed: the start-up sweep frees it", () =>
    Effect.gen(function* () {
      const { store, records, repos, group, root, hold } = yield* setup
      // The process that dies: its repo's scope never closes and the held free never runs.
      const killed = yield* Scope.make()
      const repo = yield* repos.create(group, { name: "Alice" }).pipe(Scope.provide(killed))
      const first = yield* repo.write("f", Stream.make(pattern(40_000, 1)))
      const old = yield* root(repo)
      yield* hold(old)
      const second = yield* repo.write("f", Stream.make(pattern(40_000, 2)))
      assert.isTrue(yield* store.has(first.hash))

      // The next start on the same store sweeps first, keeping the repo's current root.
      const restarted = makeDataRepos(records, store)
      const current = Option.getOrThrow(yield* restarted.publishedRoot(group, repo.key))
      const freed = yield* restarted.sweep({ groups: [group.key], keep: [current] })
      assert.include(freed, old)
      assert.include(freed, first.hash)
      assert.isFalse(yield* store.has(first.hash))
      assert.isTrue(yield* store.has(second.hash))
      assert.isTrue(yield* store.has(current))
    }).pipe(Effect.scoped),
  )
})
