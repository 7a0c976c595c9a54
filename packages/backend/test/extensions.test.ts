// The backend's calls for the RPC server: members, invites, leave, files by group,
// events, background sync and device pairing, on memory networks.
import { assert, describe, it } from "@effect/vitest"
import { formatLink, parseLink } from "@save-dweb/uri-scheme"
import { Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import type { BackendEvent, BackendShape } from "../src/index.ts"
import {
  bytesOf,
  failureOf,
  memoryBackend,
  memoryNode,
  type Networks,
  networks,
  pattern,
} from "./support.ts"

const started = (nets: Networks, options: { readonly autoSync?: boolean } = {}) =>
  Effect.gen(function* () {
    const node = yield* memoryNode(nets)
    const scope = yield* Scope.make()
    const backend: BackendShape = yield* Scope.provide(scope)(
      memoryBackend(
        nets,
        node,
        options.autoSync === true ? { autoSync: { minInterval: "10 millis" } } : {},
      ),
    )
    return { backend, stop: Scope.close(scope, Exit.void) }
  })

/** Collects `backend.events` in the background until `take` says enough. */
const collect = (backend: BackendShape, done: (seen: ReadonlyArray<BackendEvent>) => boolean) =>
  Effect.gen(function* () {
    const seen: Array<BackendEvent> = []
    const fiber = yield* backend.events.pipe(
      Stream.tap((e) => Effect.sync(() => seen.push(e))),
      Stream.takeUntil(() => done(seen)),
      Stream.runDrain,
      Effect.as(seen),
      Effect.forkScoped,
    )
    // Subscribed before the caller acts: the pubsub subscription is taken when the fiber starts.
    yield* Effect.yieldNow
    return fiber
  })

const awaitEvents = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Fiber.join(fiber).pipe(Effect.timeout("5 seconds"))

describe("Backend calls for the RPC server", () => {
  it.live("members lists both members with this backend's own slot marked", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* started(nets)
      const b = yield* started(nets)
      const ga = yield* a.backend.createGroup("Team", { memberName: "Alice" })
      const link = yield* a.backend.invite(ga.key, "write")
      yield* b.backend.joinGroup(link, { memberName: "Bob" })
      const seen = yield* b.backend.members(ga.key)
      assert.deepStrictEqual(
        seen.map((m) => [m.slot, m.name, m.mine, m.repo !== undefined]),
        [
          [0, "Alice", false, true],
          [1, "Bob", true, true],
        ],
      )
      yield* b.stop
      yield* a.stop
    }).pipe(Effect.scoped),
  )

  it.live("invite gives a link per tier; a write link needs the manager", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* started(nets)
      const b = yield* started(nets)
      const ga = yield* a.backend.createGroup("Tiers")
      for (const tier of ["replicate", "read", "write"] as const) {
        const parsed = yield* parseLink(yield* a.backend.invite(ga.key, tier))
        assert.strictEqual(parsed._tag, "GroupInvite")
      }
      yield* b.backend.joinGroup(yield* a.backend.invite(ga.key, "write"))
      const refused = yield* failureOf(b.backend.invite(ga.key, "write"))
      assert.strictEqual(refused._tag, "InsufficientCapability")
      assert.strictEqual(
        (yield* failureOf(
          a.backend.invite("VLD0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "read"),
        ))._tag,
        "UnknownGroup",
      )
      yield* b.stop
      yield* a.stop
    }).pipe(Effect.scoped),
  )

  it.live("leaving clears the member's slot for the others and forgets the group here", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* started(nets)
      const b = yield* started(nets)
      const ga = yield* a.backend.createGroup("Leaving", { memberName: "Alice" })
      yield* b.backend.joinGroup(yield* a.backend.invite(ga.key, "write"), { memberName: "Bob" })
      yield* b.backend.leaveGroup(ga.key)
      assert.deepStrictEqual(yield* b.backend.listGroups, [])
      assert.deepStrictEqual(
        (yield* a.backend.members(ga.key)).map((m) => m.name),
        ["Alice"],
      )
      assert.strictEqual((yield* failureOf(b.backend.leaveGroup(ga.key)))._tag, "UnknownGroup")
      yield* b.stop
      yield* a.stop
    }).pipe(Effect.scoped),
  )

  it.live(
    "files by group: write, list as local or remote-only and pinned, read, pin and unpin (a synced file too), delete",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const a = yield* started(nets)
        const b = yield* started(nets)
        const ga = yield* a.backend.createGroup("Files", { memberName: "Alice" })
        yield* b.backend.joinGroup(yield* a.backend.invite(ga.key, "read"))
        const bytes = pattern(70_000)
        const written = yield* a.backend.writeFile(ga.key, "a.bin", Stream.make(bytes))
        assert.strictEqual(written.size, bytes.length)
        const repo = Option.getOrThrow(ga.repo).key
        assert.deepStrictEqual(
          (yield* a.backend.files(ga.key, "mine")).map((f) => [f.name, f.status]),
          [["a.bin", "local"]],
        )
        assert.deepStrictEqual(
          (yield* b.backend.files(ga.key, repo)).map((f) => [f.name, f.status]),
          [["a.bin", "remote-only"]],
        )
        const read = yield* b.backend.readFile(ga.key, repo, "a.bin")
        assert.strictEqual(read.file.size, bytes.length)
        assert.deepStrictEqual(yield* bytesOf(read.bytes), bytes)
        const place = Effect.map(b.backend.files(ga.key, repo), (files) =>
          files.map((f) => [f.status, f.pinned]),
        )
        // The read keeps it here: a pin of this member's.
        assert.deepStrictEqual(yield* place, [["local", true]])
        yield* b.backend.unpin(ga.key, repo, "a.bin")
        assert.deepStrictEqual(yield* place, [["remote-only", false]])
        yield* b.backend.pin(ga.key, repo, "a.bin")
        assert.deepStrictEqual(yield* place, [["local", true]])
        assert.isFalse((yield* a.backend.files(ga.key, "mine"))[0]?.pinned)

        // Synced, then unpinned: dropped, and the next sync leaves it out until a pin.
        yield* b.backend.unpin(ga.key, repo, "a.bin")
        yield* b.backend.syncGroup(ga.key)
        assert.deepStrictEqual(yield* place, [["local", false]])
        yield* b.backend.unpin(ga.key, repo, "a.bin")
        assert.deepStrictEqual(yield* place, [["remote-only", false]])
        yield* b.backend.syncGroup(ga.key)
        assert.deepStrictEqual(yield* place, [["remote-only", false]])
        yield* b.backend.pin(ga.key, repo, "a.bin")
        assert.deepStrictEqual(yield* place, [["local", true]])

        assert.strictEqual((yield* failureOf(b.backend.files(ga.key, "mine")))._tag, "UnknownRepo")
        assert.strictEqual(
          (yield* failureOf(
            b.backend.files(ga.key, "VLD0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
          ))._tag,
          "UnknownRepo",
        )
        assert.strictEqual(
          (yield* failureOf(b.backend.writeFile(ga.key, "b.bin", Stream.make(bytes))))._tag,
          "NotWritable",
        )
        assert.strictEqual(
          (yield* failureOf(a.backend.readFile(ga.key, "mine", "missing")))._tag,
          "FileNotFound",
        )
        yield* a.backend.deleteFile(ga.key, "a.bin")
        assert.deepStrictEqual(yield* a.backend.files(ga.key, "mine"), [])
        yield* b.stop
        yield* a.stop
      }).pipe(Effect.scoped),
  )

  it.live("events: groups opened, own file changes, membership changes, sync progress", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* started(nets)
      const b = yield* started(nets)
      const ga = yield* a.backend.createGroup("Events", { memberName: "Alice" })
      const onA = yield* collect(
        a.backend,
        (seen) =>
          seen.some((e) => e._tag === "MembersChanged") &&
          seen.some((e) => e._tag === "FilesChanged"),
      )
      yield* a.backend.writeFile(ga.key, "a.bin", Stream.make(pattern(1000)))
      const onB = yield* collect(b.backend, (seen) => seen.some((e) => e._tag === "FilesChanged"))
      yield* b.backend.joinGroup(yield* a.backend.invite(ga.key, "write"), { memberName: "Bob" })
      const aSaw = yield* awaitEvents(onA)
      const joined = aSaw.find((e) => e._tag === "MembersChanged")
      assert.deepStrictEqual(joined?._tag === "MembersChanged" ? joined.changes : [], [
        { kind: "Joined", slot: 1, name: "Bob" },
      ])
      const own = aSaw.find((e) => e._tag === "FilesChanged")
      assert.isTrue(own?._tag === "FilesChanged" && own.mine && own.root !== null)
      yield* b.backend.syncGroup(ga.key)
      const bSaw = yield* awaitEvents(onB)
      assert.includeMembers(
        bSaw.map((e) => e._tag),
        ["GroupOpened", "SyncStarted", "SyncDone", "FilesChanged"],
      )
      yield* b.stop
      yield* a.stop
    }).pipe(Effect.scoped),
  )

  it.live("with autoSync a joining member gets the others' files without a sync call", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* started(nets)
      const b = yield* started(nets, { autoSync: true })
      const ga = yield* a.backend.createGroup("Auto", { memberName: "Alice" })
      yield* a.backend.writeFile(ga.key, "a.bin", Stream.make(pattern(5000)))
      const repo = Option.getOrThrow(ga.repo).key
      const synced = yield* collect(b.backend, (seen) =>
        seen.some((e) => e._tag === "SyncDone" && e.repo === repo),
      )
      yield* b.backend.joinGroup(yield* a.backend.invite(ga.key, "read"))
      yield* awaitEvents(synced)
      assert.deepStrictEqual(
        (yield* b.backend.files(ga.key, repo)).map((f) => [f.name, f.status]),
        [["a.bin", "local"]],
      )
      yield* b.stop
      yield* a.stop
    }).pipe(Effect.scoped),
  )

  it.live("pairing moves a member to a new device, which writes a file another member reads", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* started(nets)
      const b = yield* started(nets)
      const c = yield* started(nets)
      const ga = yield* a.backend.createGroup("Moving", { memberName: "Alice" })
      const first = pattern(30_000, 1)
      yield* a.backend.writeFile(ga.key, "first.bin", Stream.make(first))
      yield* b.backend.joinGroup(yield* a.backend.invite(ga.key, "read"))
      const link = yield* a.backend.makePairingLink()
      const paired = yield* c.backend.pair(link)
      assert.deepStrictEqual(
        paired.map((g) => [g.key, g.name, g.tier, g.loaded]),
        [[ga.key, "Moving", "write", true]],
      )
      // The old device lets go of the group: its route is cleared.
      yield* a.backend.forgetGroup(ga.key)
      const repo = Option.getOrThrow(ga.repo).key
      const onC = yield* c.backend.loadGroup(ga.key)
      assert.strictEqual(Option.getOrThrow(onC.repo).key, repo)
      assert.strictEqual(onC.group.slot, 0)
      const second = pattern(20_000, 2)
      yield* c.backend.writeFile(ga.key, "second.bin", Stream.make(second))
      assert.deepStrictEqual(
        (yield* c.backend.files(ga.key, "mine")).map((f) => f.name),
        ["first.bin", "second.bin"],
      )
      const fromC = yield* b.backend.readFile(ga.key, repo, "second.bin")
      assert.deepStrictEqual(yield* bytesOf(fromC.bytes), second)
      const older = yield* b.backend.readFile(ga.key, repo, "first.bin")
      assert.deepStrictEqual(yield* bytesOf(older.bytes), first)
      yield* c.stop
      yield* b.stop
      yield* a.stop
    }).pipe(Effect.scoped),
  )

  it.live("pairing refuses: a read member, a known group, a damaged link", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const a = yield* started(nets)
      const b = yield* started(nets)
      const ga = yield* a.backend.createGroup("Refusals")
      yield* b.backend.joinGroup(yield* a.backend.invite(ga.key, "read"))
      assert.strictEqual((yield* failureOf(b.backend.makePairingLink()))._tag, "NotPairable")
      assert.strictEqual(
        (yield* failureOf(b.backend.makePairingLink([ga.key])))._tag,
        "NotPairable",
      )
      const link = yield* a.backend.makePairingLink([ga.key])
      assert.strictEqual((yield* failureOf(b.backend.pair(link)))._tag, "GroupAlreadyKnown")
      assert.strictEqual(
        (yield* failureOf(b.backend.pair(link.slice(0, -6))))._tag,
        "InvalidPairingLink",
      )
      assert.strictEqual(
        (yield* failureOf(
          b.backend.pair(formatLink(yield* parseLink(yield* a.backend.invite(ga.key, "read")))),
        ))._tag,
        "InvalidPairingLink",
      )
      yield* b.stop
      yield* a.stop
    }).pipe(Effect.scoped),
  )
})
