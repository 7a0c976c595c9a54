// Removing a member (revoke + rotation) and renaming, on memory networks: the others'
// backends follow the rotation by themselves (also after being offline), keep every file
// under the new keys, and the removed member's backend sees nothing new.
import { assert, describe, it } from "@effect/vitest"
import { eventually } from "@save-dweb/test-support"
import type { RecordKey } from "@save-dweb/veilid"
import { Effect, Exit, Option, Ref, Scope, Stream } from "effect"
import type { BackendEvent, BackendShape } from "../src/index.ts"
import {
  bytesOf,
  failureOf,
  type MemoryNode,
  memoryBackend,
  memoryNode,
  type Networks,
  networks,
  pattern,
} from "./support.ts"

const started = (nets: Networks, node: MemoryNode) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const backend: BackendShape = yield* Scope.provide(scope)(memoryBackend(nets, node))
    return { backend, node, stop: Scope.close(scope, Exit.void) }
  })

/** A node of its own (its store outlives its backends: a restart keeps the member's blobs). */
const fresh = (nets: Networks) => Effect.flatMap(memoryNode(nets), (node) => started(nets, node))

/** A group of Alice (manager), Bob and Carol, each with one file written. */
const team = Effect.gen(function* () {
  const nets = yield* networks
  const [a, b, c] = [yield* fresh(nets), yield* fresh(nets), yield* fresh(nets)]
  const ga = yield* a.backend.createGroup("Newsroom", { memberName: "Alice" })
  const key = ga.key
  const gb = yield* b.backend.joinGroup(yield* a.backend.invite(key, "write"), {
    memberName: "Bob",
  })
  const gc = yield* c.backend.joinGroup(yield* a.backend.invite(key, "write"), {
    memberName: "Carol",
  })
  yield* a.backend.writeFile(key, "a1.txt", Stream.make(pattern(40_000)))
  yield* b.backend.writeFile(key, "b1.txt", Stream.make(pattern(30_000)))
  yield* c.backend.writeFile(key, "c1.txt", Stream.make(pattern(20_000)))
  return { nets, a, b, c, key, carol: gc.group.slot as number, bob: gb.group.slot as number }
})

/** Every event `backend` publishes from now on, in a `Ref` (subscribed before this returns). */
const recorded = (backend: BackendShape) =>
  Effect.gen(function* () {
    const seen = yield* Ref.make<ReadonlyArray<BackendEvent>>([])
    const events = yield* backend.subscribe
    yield* events.pipe(
      Stream.runForEach((e) => Ref.update(seen, (all) => [...all, e])),
      Effect.forkScoped,
    )
    return seen
  })

/** The key `backend` knows the group by now (the old key finds the new group once moved). */
const currentKey = (backend: BackendShape, key: RecordKey) =>
  Effect.map(backend.loadGroup(key), (g) => g.key)

/** Waits until `backend` has followed the rotation from `key` to `to`. */
const followed = (backend: BackendShape, key: RecordKey, to: RecordKey) =>
  eventually(
    "the rotation is followed",
    Effect.map(backend.listGroups, (groups) => groups.map((g) => g.key)),
    (keys) => keys.length === 1 && keys[0] === to,
  ).pipe(Effect.andThen(currentKey(backend, key)))

/** Every repo's files by owner name, as `backend` lists them in group `key`. */
const filesByOwner = (backend: BackendShape, key: RecordKey) =>
  Effect.gen(function* () {
    const loaded = yield* backend.loadGroup(key)
    const names: Array<string> = []
    for (const repo of yield* loaded.repos) {
      const files = yield* backend
        .files(loaded.key, repo.key)
        // A repo whose manifest no one serves any more (the removed member's view) shows nothing.
        .pipe(Effect.catchTag("NotLocal", () => Effect.succeed([])))
      for (const f of files) names.push(`${repo.name}/${f.name}`)
    }
    return names.sort()
  })

describe("removing a member", () => {
  it.live(
    "the others follow the rotation by themselves and keep every file; the removed member sees nothing new and is shown to no one",
    () =>
      Effect.gen(function* () {
        const { a, b, c, key, carol } = yield* team
        const timesBefore = (yield* b.backend.files(key, "mine")).map((f) => [
          f.name,
          f.createdAt,
          f.modifiedAt,
        ])
        const bobEvents = yield* recorded(b.backend)
        const carolEvents = yield* recorded(c.backend)
        const removed = yield* a.backend.removeMember(key, carol)
        assert.strictEqual(removed.previous, key)
        assert.notStrictEqual(removed.group, key)
        const to = removed.group
        // The manager is there at once; the old key still finds the group.
        assert.strictEqual(yield* currentKey(a.backend, key), to)
        assert.deepStrictEqual(
          (yield* a.backend.listGroups).map((g) => [g.key, g.name]),
          [[to, "Newsroom"]],
        )
        // Bob follows with no call of his own; Carol's backend learns it was left out.
        assert.strictEqual(yield* followed(b.backend, key, to), to)
        yield* eventually("bob is told the group moved", Ref.get(bobEvents), (events) =>
          events.some((e) => e._tag === "GroupMoved" && e.group === key && e.to === to),
        )
        yield* eventually("carol is told she was removed", Ref.get(carolEvents), (events) =>
          events.some((e) => e._tag === "RemovedFromGroup" && e.group === key),
        )
        const everyone = ["Alice/a1.txt", "Bob/b1.txt"]
        // Bob's file moved with its times.
        assert.deepStrictEqual(
          (yield* b.backend.files(to, "mine")).map((f) => [f.name, f.createdAt, f.modifiedAt]),
          timesBefore,
        )
        assert.deepStrictEqual(yield* filesByOwner(a.backend, to), everyone)
        assert.deepStrictEqual(yield* filesByOwner(b.backend, to), everyone)
        assert.deepStrictEqual(
          (yield* a.backend.members(to)).map((m) => m.name),
          ["Alice", "Bob"],
        )
        // Bob's re-encrypted file reads back identical at Alice's, and a new one of Alice's at Bob's.
        const bobRepo = Option.getOrThrow((yield* b.backend.loadGroup(to)).repo).key
        assert.deepStrictEqual(
          yield* bytesOf((yield* a.backend.readFile(to, bobRepo, "b1.txt")).bytes),
          pattern(30_000),
        )
        yield* a.backend.writeFile(to, "a2.txt", Stream.make(pattern(25_000)))
        const aliceRepo = Option.getOrThrow((yield* a.backend.loadGroup(to)).repo).key
        assert.deepStrictEqual(
          yield* bytesOf((yield* b.backend.readFile(to, aliceRepo, "a2.txt")).bytes),
          pattern(25_000),
        )

        // Carol still has the old group: no new file, no way to follow.
        assert.strictEqual(yield* currentKey(c.backend, key), key)
        const seenByCarol = yield* filesByOwner(c.backend, key)
        assert.notInclude(seenByCarol, "Alice/a2.txt")
        // What she writes now is in a group nobody else looks at.
        yield* c.backend.writeFile(key, "c2.txt", Stream.make(pattern(10_000)))
        for (const other of [a, b]) {
          const seen = yield* filesByOwner(other.backend, to)
          assert.isFalse(seen.some((f) => f.startsWith("Carol/")))
        }

        yield* c.stop
        yield* b.stop
        yield* a.stop
      }).pipe(Effect.scoped),
  )

  it.live("a member offline during the removal follows when it loads the group again", () =>
    Effect.gen(function* () {
      const { nets, a, b, key, carol } = yield* team
      yield* b.stop
      const { group: to } = yield* a.backend.removeMember(key, carol)
      yield* a.backend.writeFile(to, "a2.txt", Stream.make(pattern(15_000)))
      const back = yield* started(nets, b.node)
      // As the daemon does at start: every known group is loaded, and a rotation is seen then.
      yield* back.backend.loadGroup(key)
      assert.strictEqual(yield* followed(back.backend, key, to), to)
      assert.deepStrictEqual(yield* filesByOwner(back.backend, to), [
        "Alice/a1.txt",
        "Alice/a2.txt",
        "Bob/b1.txt",
      ])
      assert.deepStrictEqual(yield* filesByOwner(a.backend, to), [
        "Alice/a1.txt",
        "Alice/a2.txt",
        "Bob/b1.txt",
      ])
      yield* back.stop
      yield* a.stop
    }).pipe(Effect.scoped),
  )

  it.live("the freed slot is given again, and only the manager removes", () =>
    Effect.gen(function* () {
      const { nets, a, b, key, carol, bob } = yield* team
      assert.strictEqual(
        (yield* failureOf(b.backend.removeMember(key, carol)))._tag,
        "InsufficientCapability",
      )
      assert.strictEqual((yield* failureOf(a.backend.removeMember(key, 0)))._tag, "InvalidSlot")
      const { group: to } = yield* a.backend.removeMember(key, carol)
      yield* followed(b.backend, key, to)
      const dan = yield* fresh(nets)
      const joined = yield* dan.backend.joinGroup(yield* a.backend.invite(to, "write"), {
        memberName: "Dan",
      })
      // Bob went on in slot 1; Carol's place (slot 2) is Dan's now.
      assert.strictEqual(bob, 1)
      assert.strictEqual(joined.group.slot, carol)
      assert.deepStrictEqual(
        (yield* b.backend.members(to)).map((m) => [m.slot, m.name]),
        [
          [0, "Alice"],
          [1, "Bob"],
          [2, "Dan"],
        ],
      )
      yield* dan.stop
      yield* b.stop
      yield* a.stop
    }).pipe(Effect.scoped),
  )
})

describe("renaming", () => {
  it.live("the manager renames the group; each member renames itself, no one else", () =>
    Effect.gen(function* () {
      const { a, b, c, key, bob } = yield* team
      yield* a.backend.renameGroup(key, "Desk")
      assert.strictEqual((yield* (yield* b.backend.loadGroup(key)).group.info).name, "Desk")
      assert.strictEqual((yield* a.backend.listGroups)[0]?.name, "Desk")
      assert.strictEqual(
        (yield* failureOf(b.backend.renameGroup(key, "Mine")))._tag,
        "InsufficientCapability",
      )
      yield* b.backend.renameMember(key, bob, "Robert")
      assert.deepStrictEqual(
        (yield* a.backend.members(key)).map((m) => m.name),
        ["Alice", "Robert", "Carol"],
      )
      const other = yield* failureOf(b.backend.renameMember(key, 0, "Boss"))
      assert.strictEqual(other._tag, "NotOwnSlot")
      assert.strictEqual(
        (yield* failureOf(a.backend.renameGroup(key, "bad\u202Ename")))._tag,
        "InvalidName",
      )
      yield* c.stop
      yield* b.stop
      yield* a.stop
    }).pipe(Effect.scoped),
  )
})
