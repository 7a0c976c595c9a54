// Sources found by themselves over the memory layers: each member serves its store on its
// own tunnel, fetchers find it through the route in the repo record.
import { assert, describe, it } from "@effect/vitest"
import {
  askHas,
  type BlobHash,
  BlobStore,
  type BlobStoreService,
  blake3,
  serveBlobs,
  tunnelSource,
} from "@save-dweb/blob-store"
import { SecretKey } from "@save-dweb/crypto"
import { MemoryNetwork, makeTunnelsMemory, Tunnels } from "@save-dweb/tunnels"
import { Effect, Option, Stream } from "effect"
import { groupProtocols } from "../src/index.ts"
import { bytesOf, failureOf, networks, pattern, person } from "./support.ts"

const utf8 = new TextEncoder()

describe("sources found through routes", () => {
  it.live("another member reads a file with no sources given, over the owner's tunnel", () =>
    Effect.gen(function* () {
      const { dht, net } = yield* networks
      const alice = yield* person(dht, net)
      const group = yield* alice.groups.create("g", { memberName: "Alice" })
      const repo = yield* alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels })
      const bytes = pattern(150_000, 3)
      const file = yield* repo.write("f.bin", Stream.make(bytes))

      const bob = yield* person(dht, net)
      const bobGroup = yield* bob.groups.join(yield* group.invite("read"))
      const theirs = yield* bob.repos.open(bobGroup, repo.key)
      // A memory store has no Iroh node to tell: the tunnel is the only source.
      assert.deepStrictEqual(
        (yield* theirs.list()).map((f) => [f.name, f.status]),
        [["f.bin", "remote-only"]],
      )
      assert.deepStrictEqual(yield* bytesOf(theirs.read("f.bin")), bytes)
      assert.isTrue(yield* bob.store.has(file.hash))

      // A replicate holder syncs with no sources given too.
      const backup = yield* person(dht, net)
      const backupGroup = yield* backup.groups.join(yield* group.invite("replicate"))
      const result = yield* backup.repos.syncAll(backupGroup, {})
      assert.strictEqual(result.failed.size, 0)
      const published = yield* repo.pointer
      assert.strictEqual(result.synced.get(repo.key), Option.getOrThrow(published).root)
      assert.isTrue(yield* backup.store.has(file.hash))
    }).pipe(Effect.scoped),
  )

  it.live("with the owner offline, owner-only refuses another member's copy; `any` uses it", () =>
    Effect.gen(function* () {
      for (const policy of ["owner-only", "any"] as const) {
        const { dht, net } = yield* networks
        const alice = yield* person(dht, net)
        const group = yield* alice.groups.create("g", { memberName: "Alice", sourcePolicy: policy })
        const bytes = pattern(60_000, 9)
        const invites = { carol: yield* group.invite("write"), bob: yield* group.invite("write") }
        const carol = yield* person(dht, net)
        const carolGroup = yield* carol.groups.join(invites.carol, { memberName: "Carol" })
        yield* carol.repos.create(carolGroup, { name: "Carol", tunnels: carol.tunnels })
        // Alice is online only while Carol copies her file (and any member may).
        const { key, hash } = yield* Effect.scoped(
          Effect.gen(function* () {
            const repo = yield* alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels })
            const file = yield* repo.write("f", Stream.make(bytes))
            const theirs = yield* carol.repos.open(carolGroup, repo.key)
            yield* theirs.pin("f")
            return { key: repo.key, hash: file.hash }
          }),
        )
        assert.isTrue(yield* carol.store.has(hash))

        const bob = yield* person(dht, net)
        const bobGroup = yield* bob.groups.join(invites.bob, { memberName: "Bob" })
        const theirs = yield* bob.repos.open(bobGroup, key)
        if (policy === "owner-only") {
          const error = yield* failureOf(bytesOf(theirs.read("f")))
          assert.strictEqual(error._tag, "NotLocal")
          assert.isFalse(yield* bob.store.has(hash))
          const sync = yield* bob.repos.syncAll(bobGroup, {})
          assert.strictEqual(sync.failed.get(key)?._tag, "NoSource")
        } else {
          assert.deepStrictEqual(yield* bytesOf(theirs.read("f")), bytes)
          assert.isTrue(yield* bob.store.has(hash))
        }
      }
    }).pipe(Effect.scoped),
  )

  it.live("openMine on a second device with no copy of the record publishes its route", () =>
    Effect.gen(function* () {
      const { dht, net } = yield* networks
      const alice = yield* person(dht, net)
      const group = yield* alice.groups.create("g", { memberName: "Alice" })
      // The first device publishes its route and clears it when it closes: subkey 2 is at seq 1.
      const credentials = yield* Effect.scoped(
        Effect.map(alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels }), (r) =>
          Option.getOrThrow(r.credentials),
        ),
      )
      const device = yield* person(dht, net)
      const deviceGroup = yield* device.groups.open(group.credentials)
      const route = (yield* device.tunnels.route).blob
      const again = yield* device.repos.openMine(deviceGroup, credentials, {
        tunnels: device.tunnels,
      })
      assert.deepStrictEqual(yield* again.routes, [route])
      const seen = yield* alice.repos.open(group, credentials.key)
      assert.deepStrictEqual(yield* seen.routes, [route])
    }).pipe(Effect.scoped),
  )

  it.live("openMine on a second device fetches the repo from the first and continues it", () =>
    Effect.gen(function* () {
      const { dht, net } = yield* networks
      const alice = yield* person(dht, net)
      const group = yield* alice.groups.create("g", { memberName: "Alice" })
      const first = yield* alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels })
      const bytes = pattern(40_000, 4)
      yield* first.write("one", Stream.make(bytes))

      const device = yield* person(dht, net)
      const deviceGroup = yield* device.groups.open(group.credentials)
      const again = yield* device.repos.openMine(
        deviceGroup,
        Option.getOrThrow(first.credentials),
        {
          tunnels: device.tunnels,
        },
      )
      assert.deepStrictEqual(yield* again.routes, [(yield* device.tunnels.route).blob])
      yield* again.write("two", Stream.make(utf8.encode("2")))
      assert.deepStrictEqual(
        (yield* again.list()).map((f) => [f.name, f.status]),
        [
          ["one", "local"],
          ["two", "local"],
        ],
      )
      assert.deepStrictEqual(yield* bytesOf(again.read("one")), bytes)
      assert.strictEqual(Option.getOrThrow(yield* first.pointer).seq, 1)
    }).pipe(Effect.scoped),
  )

  it.live(
    "a member of one group asking a shared store for another group's blob gets NotFound, one at a time or many at once",
    () =>
      Effect.gen(function* () {
        const { dht, net } = yield* networks
        // Alice is in two groups on one node: one store, one tunnels node.
        const alice = yield* person(dht, net)
        const x = yield* alice.groups.create("x", { memberName: "Alice" })
        const y = yield* alice.groups.create("y", { memberName: "Alice" })
        const inX = yield* alice.repos.create(x, { name: "Alice", tunnels: alice.tunnels })
        const inY = yield* alice.repos.create(y, { name: "Alice", tunnels: alice.tunnels })
        const ofX = yield* inX.write("x.bin", Stream.make(pattern(20_000, 1)))
        const ofY = yield* inY.write("y.bin", Stream.make(pattern(20_000, 2)))
        const rootOfY = Option.getOrThrow(yield* inY.pointer).root
        const unknown = yield* Effect.promise(() => blake3(pattern(64, 5)))

        // Bob is in x only, and asks Alice's x protocol directly.
        const bob = yield* person(dht, net)
        const bobX = yield* bob.groups.join(yield* x.invite("read"))
        const [route] = yield* (yield* bob.repos.open(bobX, inX.key)).routes
        if (route === undefined) return assert.fail("Alice publishes no route in x")
        const peer = yield* bob.tunnels.connect(route, bobX.keys.tunnelAuth)
        const source = tunnelSource(peer, { id: "alice", protocol: groupProtocols(x.key).blobs })

        assert.deepStrictEqual(yield* askHas(source, [ofX.hash, ofY.hash, rootOfY, unknown]), [
          ofX.hash,
        ])
        // A refused blob fails exactly like one Alice does not have.
        const failureFor = (hash: BlobHash) =>
          Effect.map(failureOf(bob.store.fetch({ hash, kind: "blob", sources: [source] })), (e) =>
            e._tag === "AllSourcesFailed" ? e.failures.map((f) => f._tag) : [e._tag],
          )
        assert.deepStrictEqual(yield* failureFor(ofY.hash), ["NotFoundAtSource"])
        assert.deepStrictEqual(yield* failureFor(rootOfY), ["NotFoundAtSource"])
        assert.deepStrictEqual(yield* failureFor(unknown), ["NotFoundAtSource"])
        yield* bob.store.fetch({ hash: ofX.hash, kind: "blob", sources: [source] })
        assert.isTrue(yield* bob.store.has(ofX.hash))

        // Asked many at once (`GetMany`), the refused ones are answered as absent too.
        const request = utf8.encode(
          JSON.stringify({ _tag: "GetMany", hashes: [ofY.hash, rootOfY, unknown, ofX.hash] }),
        )
        const reply = yield* Stream.mkUint8Array(
          peer.open(groupProtocols(x.key).blobs, Stream.succeed(request)),
        )
        const headers: Array<{ _tag: string; hash?: string; length?: number }> = []
        for (let at = 0; at < reply.length; ) {
          const size = new DataView(reply.buffer, reply.byteOffset + at).getUint32(0)
          const header = JSON.parse(new TextDecoder().decode(reply.subarray(at + 4, at + 4 + size)))
          headers.push(header)
          at += 4 + size + (header._tag === "Found" ? header.length : 0)
        }
        assert.deepStrictEqual(
          headers.map((h) => (h._tag === "Found" ? "Found" : `${h._tag} ${h.hash}`)),
          [`NotFound ${ofY.hash}`, `NotFound ${rootOfY}`, `NotFound ${unknown}`, "Found"],
        )
      }).pipe(Effect.scoped),
  )

  it.live(
    "a source announcing another size than the manifest's is dropped before it writes, and the read goes on from another",
    () =>
      Effect.gen(function* () {
        const { dht, net } = yield* networks
        const alice = yield* person(dht, net)
        const group = yield* alice.groups.create("g", { memberName: "Alice" })
        const repo = yield* alice.repos.create(group, { name: "Alice" })
        const bytes = pattern(60_000, 4)
        const file = yield* repo.write("f.bin", Stream.make(bytes))
        const bob = yield* person(dht, net)
        const theirs = yield* bob.repos.open(
          yield* bob.groups.join(yield* group.invite("read")),
          repo.key,
        )

        /** Alice's store on a tunnels node of its own, announcing `sizeOf` for each blob. */
        const serve = (id: string, sizeOf: (h: BlobHash) => Effect.Effect<number, never>) =>
          Effect.gen(function* () {
            const key = yield* SecretKey.generate
            const node = yield* makeTunnelsMemory().pipe(Effect.provideService(MemoryNetwork, net))
            const store: BlobStoreService = {
              ...alice.store,
              size: sizeOf,
              read: (h) => alice.store.read(h),
            }
            yield* serveBlobs({ keys: [key] }).pipe(
              Effect.provideService(BlobStore, store),
              Effect.provideService(Tunnels, node),
            )
            return tunnelSource(yield* bob.tunnels.connect((yield* node.route).blob, key), { id })
          })
        const honestSize = (h: BlobHash) => alice.store.size(h).pipe(Effect.orDie)
        const liar = yield* serve("liar", (h) =>
          h === file.hash ? Effect.succeed(file.storedSize + 1) : honestSize(h),
        )
        const honest = yield* serve("honest", honestSize)

        const refused = yield* failureOf(bytesOf(theirs.read("f.bin", { sources: [liar] })))
        assert.strictEqual(refused._tag, "AllSourcesFailed")
        if (refused._tag === "AllSourcesFailed")
          assert.deepStrictEqual(
            refused.failures.map((f) => [f._tag, f.source]),
            [["UnexpectedSize", "liar"]],
          )
        assert.isFalse(yield* bob.store.has(file.hash))

        const read = yield* bytesOf(theirs.read("f.bin", { sources: [liar, honest] }))
        assert.deepStrictEqual(read, bytes)
      }).pipe(Effect.scoped),
  )

  it.live(
    "the Iroh address: asked only with the address key, answered only in a direct group",
    () =>
      Effect.gen(function* () {
        const { dht, net } = yield* networks
        const alice = yield* person(dht, net)
        const group = yield* alice.groups.create("g", { memberName: "Alice" })
        assert.strictEqual((yield* group.info).transport, "private")
        const repo = yield* alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels })

        const bob = yield* person(dht, net)
        const reader = yield* bob.groups.join(yield* group.invite("read"))
        const replica = yield* bob.groups.join(yield* group.invite("replicate"))
        const [route] = yield* (yield* bob.repos.open(reader, repo.key)).routes
        if (route === undefined) return assert.fail("Alice publishes no route")
        const ask = (key: Parameters<typeof bob.tunnels.connect>[1]) =>
          Effect.flatMap(bob.tunnels.connect(route, key), (peer) =>
            peer.request(groupProtocols(group.key).iroh, new Uint8Array(0)),
          )
        const answered = (key: Parameters<typeof bob.tunnels.connect>[1]) =>
          Effect.map(Effect.result(ask(key)), (r) => r._tag === "Success")

        // Private: a reader holding the address key is refused.
        assert.isFalse(yield* answered(yield* reader.addressKey))
        // Direct: the reader is answered; the tunnel-auth key every tier holds is not enough.
        yield* group.updateInfo({ transport: "direct" })
        assert.isTrue(yield* answered(yield* reader.addressKey))
        assert.isFalse(yield* answered(replica.keys.tunnelAuth))
        assert.isFalse(yield* answered(reader.keys.tunnelAuth))
        // The manager makes it private again: refused from the next request on.
        yield* group.updateInfo({ transport: "private" })
        assert.isFalse(yield* answered(yield* reader.addressKey))
      }).pipe(Effect.scoped),
  )
})
