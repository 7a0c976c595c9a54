import { assert, describe, it } from "@effect/vitest"
import { formatLink } from "@save-dweb/uri-scheme"
import { Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
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

  it.effect(
    "reading a file held elsewhere reports its fetch, up to its size; a local read does not",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const a = yield* started(nets)
        const b = yield* started(nets)
        const ga = yield* a.backend.createGroup("Fetch", { memberName: "Alice" })
        const gb = yield* b.backend.joinGroup(formatLink(yield* ga.group.invite("write")), {
          memberName: "Bob",
        })
        const mine = Option.getOrThrow(ga.repo)
        const written = yield* a.backend.writeFile(
          ga.key,
          "clip.bin",
          Stream.make(pattern(300_000)),
        )
        // What B's backend reports of fetches, from before the first read on.
        const progress: Array<{
          group: string
          repo: string
          name: string
          done: number
          total: number
        }> = []
        const collector = yield* Effect.forkChild(
          b.backend.events.pipe(
            Stream.runForEach((e) =>
              Effect.sync(() => {
                if (e._tag === "FileFetchProgress")
                  progress.push({
                    group: e.group,
                    repo: e.repo,
                    name: e.name,
                    done: e.bytesDone,
                    total: e.bytesTotal,
                  })
              }),
            ),
          ),
        )
        for (let i = 0; i < 5; i++) yield* Effect.yieldNow
        yield* bytesOf((yield* b.backend.readFile(gb.key, mine.key, "clip.bin")).bytes)
        for (let i = 0; i < 5; i++) yield* Effect.yieldNow
        const afterFetch = progress.length
        assert.isAbove(afterFetch, 0)
        for (const e of progress)
          assert.deepStrictEqual([e.group, e.repo, e.name], [gb.key, mine.key, "clip.bin"])
        assert.deepStrictEqual(
          [progress.at(-1)?.done, progress.at(-1)?.total],
          [written.storedSize, written.storedSize],
        )
        // Now local: read again, nothing fetched, nothing reported.
        yield* bytesOf((yield* b.backend.readFile(gb.key, mine.key, "clip.bin")).bytes)
        for (let i = 0; i < 5; i++) yield* Effect.yieldNow
        assert.strictEqual(progress.length, afterFetch)
        yield* Fiber.interrupt(collector)
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

  it.effect(
    "a downloaded file is gone after the owner deletes it and the member syncs, even across a restart",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const a = yield* started(nets)
        const b = yield* started(nets)
        const ga = yield* a.backend.createGroup("Delete", { memberName: "Alice" })
        const gb = yield* b.backend.joinGroup(formatLink(yield* ga.group.invite("write")), {
          memberName: "Bob",
        })
        const mine = Option.getOrThrow(ga.repo)
        const file = yield* a.backend.writeFile(ga.key, "secret.bin", Stream.make(pattern(50_000)))
        const kept = yield* a.backend.writeFile(ga.key, "kept.bin", Stream.make(pattern(30_000, 2)))
        // `file get`: fetched and pinned.
        const read = yield* b.backend.readFile(gb.key, mine.key, "secret.bin")
        yield* bytesOf(read.bytes)
        assert.isTrue(yield* b.node.store.has(file.hash))
        yield* b.stop

        yield* a.backend.deleteFile(ga.key, "secret.bin")
        const again = yield* started(nets, b.node)
        yield* again.backend.syncGroup(gb.key)
        assert.isFalse(yield* b.node.store.has(file.hash))
        assert.isTrue(yield* b.node.store.has(kept.hash))
        yield* again.stop
        yield* a.stop
      }),
  )

  it.effect(
    "at start, a blob nothing references is freed; own files, held roots and pins stay",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const a = yield* started(nets)
        const b = yield* started(nets)
        const ga = yield* a.backend.createGroup("Sweep", { memberName: "Alice" })
        const gb = yield* b.backend.joinGroup(formatLink(yield* ga.group.invite("write")), {
          memberName: "Bob",
        })
        const alices = yield* a.backend.writeFile(ga.key, "a.bin", Stream.make(pattern(40_000)))
        const bobs = yield* b.backend.writeFile(gb.key, "b.bin", Stream.make(pattern(40_000, 3)))
        yield* b.backend.syncGroup(gb.key)
        yield* b.backend.pin(gb.key, "mine", "b.bin")
        // What a process killed mid-write leaves: a blob no collection or tracked pin holds.
        const orphan = yield* b.node.store.addBytes(pattern(20_000, 7))
        yield* b.stop

        const again = yield* started(nets, b.node)
        assert.isFalse(yield* b.node.store.has(orphan))
        for (const hash of [alices.hash, bobs.hash]) assert.isTrue(yield* b.node.store.has(hash))
        const bytes = yield* bytesOf((yield* again.backend.readFile(gb.key, "mine", "b.bin")).bytes)
        assert.deepStrictEqual(bytes, pattern(40_000, 3))
        yield* again.stop
        yield* a.stop
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

  it.effect("forgetting a group frees what was downloaded and synced of its other repos", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* started(nets)
      const b = yield* started(nets)
      const ga = yield* a.backend.createGroup("Left", { memberName: "Alice" })
      const gb = yield* b.backend.joinGroup(formatLink(yield* ga.group.invite("read")))
      const repo = Option.getOrThrow(ga.repo).key
      const one = yield* a.backend.writeFile(ga.key, "one.bin", Stream.make(pattern(40_000)))
      yield* bytesOf((yield* b.backend.readFile(gb.key, repo, "one.bin")).bytes)
      const two = yield* a.backend.writeFile(ga.key, "two.bin", Stream.make(pattern(40_000, 4)))
      yield* b.backend.syncGroup(gb.key)
      assert.isTrue(yield* b.node.store.has(two.hash))
      yield* b.backend.forgetGroup(gb.key)
      for (const hash of [one.hash, two.hash]) assert.isFalse(yield* b.node.store.has(hash))
      assert.deepStrictEqual(yield* b.node.store.list(), [])
      yield* b.stop
      yield* a.stop
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
      // The links of the backup servers it registered the group with; entries from before have none.
      const backedUp = { ...moved, backups: ["save+dweb:backup?one", "save+dweb:backup?two"] }
      assert.deepStrictEqual(
        yield* decodeKnownGroup(entry.key, encodeKnownGroup(backedUp)),
        backedUp,
      )
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
