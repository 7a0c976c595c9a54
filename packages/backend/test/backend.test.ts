import { assert, describe, it } from "@effect/vitest"
import { formatLink } from "@save-dweb/uri-scheme"
import { Effect, Exit, Option, Scope, Stream } from "effect"
import { type BackendShape, decodeKnownGroup, encodeKnownGroup } from "../src/index.ts"
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

/** A backend in a scope of its own, so the test can stop it and start another. */
const started = (nets: Networks, existing?: MemoryNode) =>
  Effect.gen(function* () {
    const node = existing ?? (yield* memoryNode(nets))
    const scope = yield* Scope.make()
    const backend: BackendShape = yield* Scope.provide(scope)(memoryBackend(nets, node))
    return { backend, node, stop: Scope.close(scope, Exit.void) }
  })

describe("Backend on memory networks", () => {
  it.effect("a created group's name reads back, and it is listed with its own repo", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const { backend, stop } = yield* started(nets)
      const g = yield* backend.createGroup("Field notes", { memberName: "Alice" })
      assert.strictEqual((yield* g.group.info).name, "Field notes")
      assert.strictEqual(g.group.tier, "manage")
      assert.isTrue(Option.isSome(g.repo))
      const listed = yield* backend.listGroups
      assert.deepStrictEqual(listed, [
        { key: g.key, name: "Field notes", tier: "manage", loaded: true },
      ])
      const repos = yield* g.repos
      assert.deepStrictEqual(
        repos.map((r) => [r.name, r.memberName, r.mine]),
        [["Alice", "Alice", true]],
      )
      yield* stop
    }),
  )

  it.effect("a group loads again after close and after a restart on the same store", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const first = yield* started(nets)
      const g = yield* first.backend.createGroup("Kept", { memberName: "Alice" })
      const repoKey = Option.getOrThrow(g.repo).key
      yield* first.backend.closeGroup(g.key)
      assert.isFalse((yield* first.backend.listGroups)[0]?.loaded)
      const again = yield* first.backend.loadGroup(g.key)
      assert.strictEqual((yield* again.group.info).name, "Kept")
      yield* first.stop

      const second = yield* started(nets, first.node)
      assert.deepStrictEqual(
        (yield* second.backend.listGroups).map((s) => [s.key, s.name, s.tier]),
        [[g.key, "Kept", "manage"]],
      )
      const reloaded = yield* second.backend.loadGroup(g.key)
      assert.strictEqual((yield* reloaded.group.info).name, "Kept")
      const repo = Option.getOrThrow(reloaded.repo)
      assert.strictEqual(repo.key, repoKey)
      assert.isTrue(repo.writable)
      assert.strictEqual(yield* repo.name, "Alice")
      yield* second.stop
    }),
  )

  it.effect("loading a group that was never stored fails with UnknownGroup", () =>
    Effect.gen(function* () {
      const { backend, stop } = yield* started(yield* networks)
      const error = yield* failureOf(
        backend.loadGroup("VLD0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
      )
      assert.strictEqual(error._tag, "UnknownGroup")
      yield* stop
    }),
  )

  it.effect("joining by a write link makes a repo, and both list each other's repos by name", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* started(nets)
      const b = yield* started(nets)
      const ga = yield* a.backend.createGroup("Shared", { memberName: "Alice" })
      const link = formatLink(yield* ga.group.invite("write"))
      const gb = yield* b.backend.joinGroup(link, { memberName: "Bob" })
      assert.strictEqual(gb.group.tier, "write")
      assert.deepStrictEqual(yield* b.backend.listGroups, [
        { key: ga.key, name: "Shared", tier: "write", loaded: true },
      ])
      const names = (repos: ReadonlyArray<{ readonly name: string }>) =>
        repos.map((r) => r.name).sort()
      assert.deepStrictEqual(names(yield* gb.repos), ["Alice", "Bob"])
      assert.deepStrictEqual(names(yield* ga.repos), ["Alice", "Bob"])
      const again = yield* failureOf(b.backend.joinGroup(link))
      assert.strictEqual(again._tag, "GroupAlreadyKnown")
      yield* b.stop
      yield* a.stop
    }),
  )

  it.effect("a read link joins without a repo of its own", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* started(nets)
      const b = yield* started(nets)
      const ga = yield* a.backend.createGroup("Readers")
      const gb = yield* b.backend.joinGroup(formatLink(yield* ga.group.invite("read")))
      assert.strictEqual(gb.group.tier, "read")
      assert.isTrue(Option.isNone(gb.repo))
      assert.deepStrictEqual(
        (yield* gb.repos).map((r) => r.name),
        ["Readers"],
      )
      yield* b.stop
      yield* a.stop
    }),
  )

  it.effect("a file written on one backend reads back identical on another", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* started(nets)
      const b = yield* started(nets)
      const ga = yield* a.backend.createGroup("Files", { memberName: "Alice" })
      const gb = yield* b.backend.joinGroup(formatLink(yield* ga.group.invite("write")), {
        memberName: "Bob",
      })
      const bytes = pattern(200_000)
      const mine = Option.getOrThrow(ga.repo)
      yield* mine.write("notes.bin", Stream.make(bytes))
      const theirs = yield* gb.openRepo(mine.key)
      const read = yield* bytesOf(theirs.read("notes.bin"))
      assert.deepStrictEqual(read, bytes)
      yield* b.stop
      yield* a.stop
    }),
  )

  it.effect("stopping a backend clears its route from its repo before it goes", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* started(nets)
      const b = yield* started(nets)
      const ga = yield* a.backend.createGroup("Routes", { memberName: "Alice" })
      const gb = yield* b.backend.joinGroup(formatLink(yield* ga.group.invite("read")))
      const seen = yield* gb.openRepo(Option.getOrThrow(ga.repo).key)
      assert.strictEqual((yield* seen.routes).length, 1)
      yield* a.stop
      assert.strictEqual((yield* seen.routes).length, 0)
      yield* b.stop
    }),
  )

  it.effect("a forgotten group is no longer listed or loadable", () =>
    Effect.gen(function* () {
      const { backend, stop } = yield* started(yield* networks)
      const g = yield* backend.createGroup("Gone")
      yield* backend.forgetGroup(g.key)
      assert.deepStrictEqual(yield* backend.listGroups, [])
      assert.strictEqual((yield* failureOf(backend.loadGroup(g.key)))._tag, "UnknownGroup")
      yield* stop
    }),
  )

  it.effect("a stored entry round-trips, and damaged bytes fail with InvalidKnownGroup", () =>
    Effect.gen(function* () {
      const entry = {
        key: "VLD0:key",
        credentials: new Uint8Array([1, 2, 3]),
        repo: { key: "VLD0:repo", owner: "VLD0:pub:secret" },
        name: "Name",
        tier: "write" as const,
      }
      assert.deepStrictEqual(yield* decodeKnownGroup(entry.key, encodeKnownGroup(entry)), entry)
      // A rotated group's entry names where it went; entries from before read as in use.
      const moved = { ...entry, movedTo: "VLD0:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB" }
      assert.deepStrictEqual(yield* decodeKnownGroup(entry.key, encodeKnownGroup(moved)), moved)
      const damaged = encodeKnownGroup(entry).subarray(0, 20)
      assert.strictEqual(
        (yield* failureOf(decodeKnownGroup(entry.key, damaged)))._tag,
        "InvalidKnownGroup",
      )
      const notUtf8 = yield* failureOf(decodeKnownGroup(entry.key, new Uint8Array([0xff, 0xfe])))
      assert.strictEqual(notUtf8._tag, "InvalidKnownGroup")
    }),
  )
})
