// data-repo on real nodes: two Veilid nodes on a private testnet (tooling/veilid-testnet)
// and two real Iroh stores. Run inside `veilid-testnet exec` (the package's `test`
// script does). Every wait has a deadline; nothing sleeps.
import { mkdtemp, readdir, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, layer } from "@effect/vitest"
import { BlobStore, type BlobStoreService, layer as irohLayer } from "@save-dweb/blob-store"
import { makeDhtRecords } from "@save-dweb/dht-records"
import { type GroupsShape, makeGroups } from "@save-dweb/group"
import { eventually } from "@save-dweb/test-support"
import { makeTunnels, type TunnelsShape } from "@save-dweb/tunnels"
import { decodeConfig, makeVeilid, Veilid } from "@save-dweb/veilid"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { type DataReposShape, groupProtocols, IrohAddress, makeDataRepos } from "../src/index.ts"
import { bytesOf, chunked, pattern } from "./support.ts"

interface Person {
  /** The Iroh store's directory. */
  readonly dir: string
  readonly groups: GroupsShape
  readonly store: BlobStoreService
  readonly repos: DataReposShape
  readonly tunnels: TunnelsShape
}

class People extends Context.Service<People, { readonly alice: Person; readonly bob: Person }>()(
  "@save-dweb/data-repo/test/People",
) {}

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "data-repo-it-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
)

/** Whether the store under `dir` keeps `hash` as a data file (blobs over 16 KiB). */
const holdsDataFile = (dir: string, hash: string) =>
  Effect.map(
    Effect.promise(() => readdir(dir, { recursive: true })),
    (files) => files.some((f) => f.endsWith(`${hash}.data`)),
  )

const PeopleLive = Layer.effect(
  People,
  Effect.gen(function* () {
    const testnet = yield* withTestnet()
    const person = (name: string) =>
      Effect.gen(function* () {
        const veilid = yield* Effect.flatMap(decodeConfig(testnet.nodeConfig(name)), (config) =>
          makeVeilid(config, { readyTimeout: "90 seconds" }),
        )
        const dir = yield* tempDir
        const store = Context.get(
          yield* Layer.build(
            irohLayer({
              dir,
              ipv4Addr: "127.0.0.1:0",
              ipv6Addr: "[::1]:0",
              fetchTimeoutMillis: 20_000,
            }),
          ),
          BlobStore,
        )
        const records = yield* makeDhtRecords(veilid)
        const tunnels = yield* makeTunnels().pipe(Effect.provideService(Veilid, veilid))
        return {
          dir,
          groups: makeGroups(records),
          store,
          tunnels,
          repos: makeDataRepos(records, store, { tunnels }),
        }
      })
    const [alice, bob] = yield* Effect.all([person("alice"), person("bob")], { concurrency: 2 })
    return { alice, bob }
  }),
)

layer(PeopleLive, { excludeTestServices: true, timeout: 300_000 })(
  "data repos on a private Veilid testnet with real Iroh stores",
  (it) => {
    it.effect("A writes a file and B reads identical bytes", () =>
      Effect.gen(function* () {
        const { alice, bob } = yield* People
        const group = yield* alice.groups.create("Field notes", { memberName: "Alice" })
        const repo = yield* alice.repos.create(group, { name: "Alice" })
        const bytes = pattern(3 * 1024 * 1024 + 17, 5)
        const written = yield* repo.write("survey.bin", chunked(bytes, 64 * 1024))

        const bobGroup = yield* bob.groups.join(yield* group.invite("write"), { memberName: "Bob" })
        const pointers = yield* eventually(
          "alice's repo in the group",
          bobGroup.repos,
          (r) => r.length === 1,
        )
        const theirs = yield* bob.repos.open(bobGroup, pointers[0]?.repoKey ?? "")
        yield* eventually("alice's pointer", theirs.pointer, Option.isSome)
        const sources = [yield* alice.store.source()]
        const files = yield* theirs.list({ sources })
        assert.deepStrictEqual(
          files.map((f) => [f.name, f.hash, f.size, f.owner, f.status]),
          [["survey.bin", written.hash, bytes.length, "Alice", "remote-only"]],
        )
        const read = yield* bytesOf(theirs.read("survey.bin", { sources }))
        assert.strictEqual(read.length, bytes.length)
        assert.deepStrictEqual(read, bytes)
        assert.isTrue(yield* bob.store.has(written.hash))
      }).pipe(Effect.scoped),
    )

    it.effect("B reads A's file with no sources given, found through A's route", () =>
      Effect.gen(function* () {
        const { alice, bob } = yield* People
        const group = yield* alice.groups.create("Found", {
          memberName: "Alice",
          transport: "direct",
        })
        const repo = yield* alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels })
        const bytes = pattern(2 * 1024 * 1024 + 5, 11)
        const written = yield* repo.write("map.bin", chunked(bytes, 64 * 1024))

        const bobGroup = yield* bob.groups.join(yield* group.invite("read"))
        const theirs = yield* bob.repos.open(bobGroup, repo.key)
        yield* eventually("alice's pointer", theirs.pointer, Option.isSome)
        const [route] = yield* eventually("alice's route", theirs.routes, (r) => r.length === 1)
        // In a direct group her Iroh address reaches a reader only over her tunnel, when
        // asked with the address key.
        const peer = yield* bob.tunnels.connect(
          route ?? new Uint8Array(0),
          yield* bobGroup.addressKey,
        )
        const answer = yield* peer.request(groupProtocols(group.key).iroh, new Uint8Array(0))
        const told = Schema.decodeUnknownSync(Schema.fromJsonString(IrohAddress))(
          new TextDecoder().decode(answer),
        )
        const own = yield* alice.store.source()
        assert.strictEqual(told.node?.nodeId, own._tag === "IrohSource" ? own.nodeId : "")
        // A replicate holder (a backup server's tier) asks with the only key it has: refused.
        const replica = yield* bob.groups.join(yield* group.invite("replicate"))
        const asReplica = yield* bob.tunnels.connect(
          route ?? new Uint8Array(0),
          replica.keys.tunnelAuth,
        )
        const refused = yield* Effect.result(
          asReplica.request(groupProtocols(group.key).iroh, new Uint8Array(0)),
        )
        assert.strictEqual(refused._tag, "Failure")
        // Made private by its manager, the group's members are refused too.
        yield* group.updateInfo({ transport: "private" })
        const nowPrivate = yield* Effect.result(
          peer.request(groupProtocols(group.key).iroh, new Uint8Array(0)),
        )
        assert.strictEqual(nowPrivate._tag, "Failure")

        const read = yield* bytesOf(theirs.read("map.bin"))
        assert.strictEqual(read.length, bytes.length)
        assert.deepStrictEqual(read, bytes)
        assert.isTrue(yield* bob.store.has(written.hash))
      }).pipe(Effect.scoped),
    )

    it.effect("a replicate holder syncs a repo over Iroh, then purges a deleted file", () =>
      Effect.gen(function* () {
        const { alice, bob } = yield* People
        const group = yield* alice.groups.create("Backups", { memberName: "Alice" })
        const repo = yield* alice.repos.create(group, { name: "Alice" })
        const kept = yield* repo.write("kept", chunked(pattern(512 * 1024, 1), 64 * 1024))
        const gone = yield* repo.write("gone", chunked(pattern(512 * 1024, 2), 64 * 1024))
        const backup = yield* bob.groups.join(yield* group.invite("replicate"))
        const aliceSource = yield* alice.store.source()
        const options = { ownerSources: () => [aliceSource] }
        yield* eventually(
          "both files replicated",
          bob.repos.syncAll(backup, options),
          (r) => r.synced.size === 1,
        )
        assert.isTrue(yield* bob.store.has(kept.hash))
        assert.isTrue(yield* bob.store.has(gone.hash))
        yield* repo.delete("gone")
        yield* eventually("the deleted file purged", bob.repos.syncAll(backup, options), (r) =>
          r.freed.includes(gone.hash),
        )
        assert.isFalse(yield* bob.store.has(gone.hash))
        assert.isTrue(yield* bob.store.has(kept.hash))
      }).pipe(Effect.scoped),
    )

    it.effect(
      "a member drops a synced file: its data file goes, later syncs over Iroh leave it out, pin brings it back",
      () =>
        Effect.gen(function* () {
          const { alice, bob } = yield* People
          const group = yield* alice.groups.create("Drops", { memberName: "Alice" })
          const repo = yield* alice.repos.create(group, { name: "Alice" })
          const one = yield* repo.write("one", chunked(pattern(512 * 1024, 3), 64 * 1024))
          const two = yield* repo.write("two", chunked(pattern(256 * 1024, 4), 64 * 1024))
          const member = yield* bob.groups.join(yield* group.invite("read"))
          const aliceSource = yield* alice.store.source()
          const options = { ownerSources: () => [aliceSource] }
          yield* eventually("both files synced", bob.repos.syncAll(member, options), (r) =>
            r.synced.has(repo.key),
          )
          assert.isTrue(yield* holdsDataFile(bob.dir, one.hash))
          const theirs = yield* bob.repos.open(member, repo.key)

          yield* theirs.unpin("one")
          assert.isFalse(yield* holdsDataFile(bob.dir, one.hash))
          assert.isTrue(yield* holdsDataFile(bob.dir, two.hash))

          // The owner's next write: the pass fetches the new collection without the drop.
          const three = yield* repo.write("three", chunked(pattern(300 * 1024, 5), 64 * 1024))
          yield* eventually(
            "the new file synced",
            bob.repos.syncAll(member, options),
            (r) => r.failed.size === 0 && r.synced.has(repo.key),
          )
          assert.isTrue(yield* holdsDataFile(bob.dir, three.hash))
          assert.isFalse(yield* bob.store.has(one.hash))
          assert.isFalse(yield* holdsDataFile(bob.dir, one.hash))

          yield* theirs.pin("one", { sources: [aliceSource] })
          assert.isTrue(yield* holdsDataFile(bob.dir, one.hash))
          const listed = (yield* theirs.list()).map((f) => [f.name, f.status, f.pinned])
          assert.deepStrictEqual(listed, [
            ["one", "local", true],
            ["three", "local", false],
            ["two", "local", false],
          ])
        }).pipe(Effect.scoped),
    )
  },
)
