// syncAll and route publication over the memory layers.
import { assert, describe, it } from "@effect/vitest"
import { MemoryDhtNetwork } from "@save-dweb/dht-records"
import { MemoryNetwork, makeTunnelsMemory } from "@save-dweb/tunnels"
import { Context, Duration, Effect, Layer, Option, Queue, Schedule, Stream } from "effect"
import type { SyncEvent, SyncResult } from "../src/index.ts"
import { participant, pattern } from "./support.ts"

const utf8 = new TextEncoder()

const setup = (sourcePolicy: "any" | "owner-only") =>
  Effect.gen(function* () {
    const net = yield* MemoryDhtNetwork.make()
    const alice = yield* participant(net)
    const group = yield* alice.groups.create("g", { memberName: "Alice", sourcePolicy })
    const repo = yield* alice.repos.create(group, { name: "Alice" })
    const join = (tier: "write" | "replicate", memberName?: string) =>
      Effect.gen(function* () {
        const p = yield* participant(net)
        const g = yield* p.groups.join(
          yield* group.invite(tier),
          memberName === undefined ? {} : { memberName },
        )
        return { ...p, group: g }
      })
    return { net, alice, group, repo, join }
  })

describe("syncAll", () => {
  it.live("a backup replicates every repo, then purges what a delete removed", () =>
    Effect.gen(function* () {
      const { alice, repo, join } = yield* setup("any")
      const one = yield* repo.write("one", Stream.make(pattern(40_000, 1)))
      const two = yield* repo.write("two", Stream.make(pattern(40_000, 2)))
      const bob = yield* join("write", "Bob")
      const bobRepo = yield* bob.repos.create(bob.group, { name: "Bob" })
      const bobs = yield* bobRepo.write("bob", Stream.make(utf8.encode("bob's file")))
      const backup = yield* join("replicate")
      const sourceOf = new Map([
        [repo.key, yield* alice.store.source()],
        [bobRepo.key, yield* bob.store.source()],
      ])
      const events: Array<SyncEvent["_tag"]> = []
      const options = {
        ownerSources: (r: { readonly repoKey: string }) => {
          const source = sourceOf.get(r.repoKey)
          return source === undefined ? [] : [source]
        },
        onProgress: (e: SyncEvent) => Effect.sync(() => void events.push(e._tag)),
      }
      const first = yield* backup.repos.syncAll(backup.group, options)
      assert.strictEqual(first.synced.size, 2)
      assert.strictEqual(first.failed.size, 0)
      for (const hash of [one.hash, two.hash, bobs.hash]) {
        assert.isTrue(yield* backup.store.has(hash))
      }
      assert.includeMembers(events, ["RepoStarted", "RepoProgress", "RepoSynced"])

      yield* repo.delete("one")
      const second = yield* backup.repos.syncAll(backup.group, options)
      assert.isFalse(yield* backup.store.has(one.hash))
      assert.isTrue(yield* backup.store.has(two.hash))
      assert.include(second.freed, one.hash)
      assert.deepStrictEqual(
        (yield* backup.store.list()).map((r) => r.hash).sort(),
        [...second.synced.values()].sort(),
      )
      // Bob syncs Alice's repo only (his own is his), and reads from his copy.
      const bobSync = yield* bob.repos.syncAll(bob.group, options)
      assert.deepStrictEqual([...bobSync.synced.keys()], [repo.key])
      const theirs = yield* bob.repos.open(bob.group, repo.key)
      assert.deepStrictEqual(
        (yield* theirs.list()).map((f) => [f.name, f.status]),
        [["two", "local"]],
      )
    }).pipe(Effect.scoped),
  )

  it.live("an unreachable owner is reported in failed, not as an error", () =>
    Effect.gen(function* () {
      const { repo, join } = yield* setup("any")
      yield* repo.write("f", Stream.make(utf8.encode("x")))
      const backup = yield* join("replicate")
      const result = yield* backup.repos.syncAll(backup.group, { ownerSources: () => [] })
      assert.strictEqual(result.synced.size, 0)
      assert.strictEqual(result.failed.get(repo.key)?._tag, "NoSource")
    }).pipe(Effect.scoped),
  )

  it.live("owner-only groups never fetch from other holders; `any` groups do", () =>
    Effect.gen(function* () {
      for (const policy of ["owner-only", "any"] as const) {
        const { alice, repo, join } = yield* setup(policy)
        const file = yield* repo.write("f", Stream.make(pattern(20_000)))
        const mirror = yield* join("replicate")
        const aliceSource = yield* alice.store.source()
        yield* mirror.repos.syncAll(mirror.group, { ownerSources: () => [aliceSource] })
        const late = yield* join("replicate")
        const result = yield* late.repos.syncAll(late.group, {
          // The owner is offline; only the mirror has the data.
          ownerSources: () => [],
          otherSources: [yield* mirror.store.source()],
        })
        if (policy === "owner-only") {
          assert.strictEqual(result.failed.get(repo.key)?._tag, "NoSource")
          assert.isFalse(yield* late.store.has(file.hash))
        } else {
          assert.strictEqual(result.synced.size, 1)
          assert.isTrue(yield* late.store.has(file.hash))
        }
      }
    }).pipe(Effect.scoped),
  )
})

describe("keepSynced", () => {
  it.live("an offline owner is retried when its repo record changes, and later writes follow", () =>
    Effect.gen(function* () {
      const { alice, repo, join } = yield* setup("any")
      const first = yield* repo.write("first", Stream.make(pattern(10_000, 1)))
      const backup = yield* join("replicate")
      const aliceSource = yield* alice.store.source()
      const online = { alice: false }
      const results = yield* Queue.unbounded<SyncResult>()
      yield* backup.repos
        .keepSynced(backup.group, {
          ownerSources: () => (online.alice ? [aliceSource] : []),
          onResult: (result) => Queue.offer(results, result).pipe(Effect.asVoid),
        })
        .pipe(Effect.forkScoped)
      const offline = yield* Queue.take(results).pipe(Effect.timeout(Duration.seconds(5)))
      assert.strictEqual(offline.failed.get(repo.key)?._tag, "NoSource")
      // Alice comes back and writes: her pointer changes, the watch wakes the sync.
      online.alice = true
      const second = yield* repo.write("second", Stream.make(pattern(10_000, 2)))
      const retried = yield* Queue.take(results).pipe(Effect.timeout(Duration.seconds(10)))
      assert.strictEqual(retried.failed.size, 0)
      assert.strictEqual(retried.synced.size, 1)
      assert.isTrue(yield* backup.store.has(first.hash))
      assert.isTrue(yield* backup.store.has(second.hash))
      // A delete is followed too: the next pass purges the blob.
      yield* repo.delete("first")
      yield* Queue.take(results).pipe(
        Effect.repeat({ until: (r) => r.freed.includes(first.hash) }),
        Effect.timeout(Duration.seconds(10)),
      )
      assert.isFalse(yield* backup.store.has(first.hash))
    }).pipe(Effect.scoped),
  )
})

describe("keepSynced backoff", () => {
  it.live("a failed pass is retried on a timer, with no change to wake it", () =>
    Effect.gen(function* () {
      const { alice, repo, join } = yield* setup("any")
      const file = yield* repo.write("f", Stream.make(pattern(10_000, 4)))
      const backup = yield* join("replicate")
      const aliceSource = yield* alice.store.source()
      const online = { alice: false }
      const results = yield* Queue.unbounded<SyncResult>()
      yield* backup.repos
        .keepSynced(backup.group, {
          ownerSources: () => (online.alice ? [aliceSource] : []),
          onResult: (result) => Queue.offer(results, result).pipe(Effect.asVoid),
          minInterval: "10 millis",
          retryInitial: "50 millis",
          retryMax: "200 millis",
        })
        .pipe(Effect.forkScoped)
      // Several failing passes (backing off), then the owner is reachable again.
      for (let i = 0; i < 3; i++) {
        const failed = yield* Queue.take(results).pipe(Effect.timeout(Duration.seconds(5)))
        assert.strictEqual(failed.failed.get(repo.key)?._tag, "NoSource")
      }
      online.alice = true
      yield* Queue.take(results).pipe(
        Effect.repeat({ until: (r) => r.synced.size === 1 }),
        Effect.timeout(Duration.seconds(5)),
      )
      assert.isTrue(yield* backup.store.has(file.hash))
    }).pipe(Effect.scoped),
  )
})

describe("routes", () => {
  it.live("the member's route is published, follows renewals, and is cleared at scope close", () =>
    Effect.gen(function* () {
      const { alice, group, join } = yield* setup("any")
      const tunnelNet = Context.get(yield* Layer.build(MemoryNetwork.layer()), MemoryNetwork)
      const bob = yield* join("replicate")
      const routesSeenByBob = (key: string) =>
        Effect.scoped(Effect.flatMap(bob.repos.open(bob.group, key), (r) => r.routes))
      const waitFor = (key: string, where: (routes: ReadonlyArray<Uint8Array>) => boolean) =>
        routesSeenByBob(key).pipe(
          Effect.filterOrFail(where, () => "not yet" as const),
          Effect.retry(Schedule.spaced(Duration.millis(20))),
          Effect.timeout(Duration.seconds(5)),
        )
      const key = yield* Effect.scoped(
        Effect.gen(function* () {
          const tunnels = yield* makeTunnelsMemory().pipe(
            Effect.provideService(MemoryNetwork, tunnelNet),
          )
          const own = yield* tunnels.route
          const repo = yield* alice.repos.openMine(
            group,
            Option.getOrThrow((yield* alice.repos.create(group, { name: "Alice" })).credentials),
            { tunnels },
          )
          yield* waitFor(repo.key, (r) => r.length === 1 && same(r[0], own.blob))
          yield* tunnelNet.killRoute(own.routeId)
          const renewed = yield* waitFor(repo.key, (r) => r.length === 1 && !same(r[0], own.blob))
          assert.strictEqual(renewed.length, 1)
          return repo.key
        }),
      )
      assert.deepStrictEqual(yield* routesSeenByBob(key), [])
    }).pipe(Effect.scoped),
  )
})

const same = (a: Uint8Array | undefined, b: Uint8Array) =>
  a !== undefined && a.length === b.length && a.every((x, i) => x === b[i])
