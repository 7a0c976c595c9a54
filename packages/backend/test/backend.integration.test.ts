// Backends on a private Veilid testnet (tooling/veilid-testnet) with real Iroh stores:
// eight testnet nodes plus one Veilid node per backend. Run inside `veilid-testnet exec`
// (the package's `test` script does). Every wait has a deadline; nothing sleeps.
import { assert, layer } from "@effect/vitest"
import { formatLink } from "@save-dweb/uri-scheme"
import { Effect, Option, Stream } from "effect"
import { bytesOf, pattern } from "./support.ts"
import { eventually, Net, NetLive, start, tempDir, timeout } from "./testnet.ts"

layer(NetLive, { excludeTestServices: true, timeout: 300_000 })(
  "backends on a private Veilid testnet with real Iroh stores",
  (it) => {
    it.effect(
      "a group's name reads back, after a close and after a restart on the same storage dir",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const dir = yield* tempDir
          const first = yield* start(testnet, "alice", dir)
          const g = yield* first.backend.createGroup("Field notes", { memberName: "Alice" })
          assert.strictEqual((yield* g.group.info).name, "Field notes")
          const repoKey = Option.getOrThrow(g.repo).key
          yield* first.backend.closeGroup(g.key)
          const again = yield* first.backend.loadGroup(g.key)
          assert.strictEqual((yield* again.group.info).name, "Field notes")
          yield* first.stop

          const second = yield* start(testnet, "alice", dir)
          assert.deepStrictEqual(
            (yield* second.backend.listGroups).map((s) => [s.key, s.name, s.tier, s.loaded]),
            [[g.key, "Field notes", "manage", false]],
          )
          const reloaded = yield* eventually("alice reloads", second.backend.loadGroup(g.key))
          assert.strictEqual((yield* reloaded.group.info).name, "Field notes")
          const repo = Option.getOrThrow(reloaded.repo)
          assert.strictEqual(repo.key, repoKey)
          assert.strictEqual(yield* repo.name, "Alice")
          yield* second.stop
        }),
      timeout,
    )

    it.effect(
      "a second backend joins by link, lists both repos by name, reads a file the first wrote, and sees its route cleared when it stops",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const [a, b] = yield* Effect.all(
            [
              Effect.flatMap(tempDir, (dir) => start(testnet, "carol", dir)),
              Effect.flatMap(tempDir, (dir) => start(testnet, "dave", dir)),
            ],
            { concurrency: 2 },
          )
          const ga = yield* a.backend.createGroup("Shared", { memberName: "Carol" })
          const link = formatLink(yield* ga.group.invite("write"))
          const gb = yield* eventually(
            "dave joins",
            b.backend.joinGroup(link, { memberName: "Dave" }),
          )
          assert.deepStrictEqual(
            (yield* b.backend.listGroups).map((s) => [s.key, s.name, s.tier]),
            [[ga.key, "Shared", "write"]],
          )
          const names = (repos: ReadonlyArray<{ readonly name: string }>) =>
            repos
              .map((r) => r.name)
              .sort()
              .join(",")
          yield* eventually("dave lists both repos", gb.repos, (r) => names(r) === "Carol,Dave")
          yield* eventually("carol lists both repos", ga.repos, (r) => names(r) === "Carol,Dave")

          const bytes = pattern(1_000_000)
          const mine = Option.getOrThrow(ga.repo)
          yield* mine.write("field.bin", Stream.make(bytes))
          const theirs = yield* eventually("dave opens carol's repo", gb.openRepo(mine.key))
          const read = yield* eventually(
            "dave reads carol's file",
            bytesOf(theirs.read("field.bin")),
            (r) => r.length === bytes.length,
          )
          assert.isTrue(Buffer.from(read).equals(Buffer.from(bytes)))

          // Stopping clears the own route from the repo record while the node is online.
          yield* eventually("dave sees carol's route", theirs.routes, (r) => r.length === 1)
          yield* a.stop
          yield* eventually("carol's route is gone", theirs.routes, (r) => r.length === 0)
          yield* b.stop
        }),
      timeout,
    )

    it.effect(
      "pairing moves a member's repo to a new device, which writes a file another member reads",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const [a, b, c] = yield* Effect.all(
            [
              Effect.flatMap(tempDir, (dir) => start(testnet, "erin", dir)),
              Effect.flatMap(tempDir, (dir) => start(testnet, "frank", dir)),
              Effect.flatMap(tempDir, (dir) => start(testnet, "erin-laptop", dir)),
            ],
            { concurrency: 3 },
          )
          const ga = yield* a.backend.createGroup("Moving", { memberName: "Erin" })
          const repo = Option.getOrThrow(ga.repo).key
          const first = pattern(400_000, 1)
          yield* a.backend.writeFile(ga.key, "first.bin", Stream.make(first))
          const readLink = yield* a.backend.invite(ga.key, "read")
          yield* eventually("frank joins", b.backend.joinGroup(readLink))

          // The laptop takes Erin's identity while the phone is online (it serves the files).
          const link = yield* a.backend.makePairingLink([ga.key])
          const paired = yield* eventually("the laptop pairs", c.backend.pair(link), () => true, [
            "NotLocal",
            "NoSource",
            "AllSourcesFailed",
          ])
          assert.deepStrictEqual(
            paired.map((g) => [g.key, g.tier]),
            [[ga.key, "write"]],
          )
          // The phone lets go without leaving: stopping it must not clear the laptop's route.
          yield* a.backend.forgetGroup(ga.key)
          yield* a.stop

          const onLaptop = yield* c.backend.loadGroup(ga.key)
          assert.strictEqual(Option.getOrThrow(onLaptop.repo).key, repo)
          const second = pattern(300_000, 2)
          yield* c.backend.writeFile(ga.key, "second.bin", Stream.make(second))
          assert.deepStrictEqual(
            (yield* c.backend.files(ga.key, "mine")).map((f) => [f.name, f.status]),
            [
              ["first.bin", "local"],
              ["second.bin", "local"],
            ],
          )
          const read = (name: string) =>
            Effect.flatMap(b.backend.readFile(ga.key, repo, name), (r) => bytesOf(r.bytes))
          const got = yield* eventually(
            "frank reads the laptop's file",
            read("second.bin"),
            (r) => r.length === second.length,
            ["FileNotFound", "NotLocal", "NoSource", "AllSourcesFailed"],
          )
          assert.isTrue(Buffer.from(got).equals(Buffer.from(second)))
          const older = yield* eventually(
            "frank reads the moved file",
            read("first.bin"),
            () => true,
            ["NotLocal", "NoSource", "AllSourcesFailed"],
          )
          assert.isTrue(Buffer.from(older).equals(Buffer.from(first)))
          yield* c.stop
          yield* b.stop
        }),
      timeout,
    )
  },
)
