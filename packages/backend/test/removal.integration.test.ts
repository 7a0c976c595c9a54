// Removing a member on a private Veilid testnet with real Iroh stores and real tunnels,
// observed from the outside: the bytes on the manager's disk, the removed member's own
// tunnels calling the others' live routes, what each backend lists and reads. Run inside
// `veilid-testnet exec`; every wait has a deadline, nothing sleeps.
import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { assert, layer } from "@effect/vitest"
import type { BlobHash, IrohSource } from "@save-dweb/blob-store"
import { decryptFile } from "@save-dweb/crypto"
import { groupProtocols } from "@save-dweb/data-repo"
import type { RecordKey } from "@save-dweb/veilid"
import { Effect, Option, Stream } from "effect"
import type { BackendShape } from "../src/index.ts"
import { bytesOf, failureOf, pattern } from "./support.ts"
import {
  eventually,
  groupOf,
  holdsBlobFile,
  type Member,
  Net,
  NetLive,
  repoOf,
  type Started,
  slotOf,
  start,
  timeout,
  transient,
} from "./testnet.ts"

/** data-repo's associated data of every encrypted file (a wire constant, not exported). */
const FILE_AD = new TextEncoder().encode("save-dweb/data-repo/file/v1")

/** The stored (encrypted) bytes of blob `hash` in `node`'s Iroh store (kept as `<hash>.data` over 16 KiB). */
const storedBytes = (node: Started, hash: string) =>
  Effect.promise(async () => {
    const dir = join(node.storageDir, "iroh")
    const found = (await readdir(dir, { recursive: true })).find((f) => f.endsWith(`${hash}.data`))
    if (found === undefined) throw new Error(`no ${hash}.data under ${dir}`)
    return new Uint8Array(await readFile(join(dir, found)))
  })

/** Every repo's files by repo name, as `backend` lists them now; a repo nobody serves shows none. */
const filesByOwner = (backend: BackendShape, key: RecordKey) =>
  Effect.gen(function* () {
    const loaded = yield* backend.loadGroup(key)
    const names: Array<string> = []
    for (const repo of yield* loaded.repos) {
      const files = yield* backend
        .files(loaded.key, repo.key)
        .pipe(Effect.catchTag("NotLocal", () => Effect.succeed([])))
      for (const f of files) names.push(`${repo.name}/${f.name}`)
    }
    return names.sort()
  })

/** Reads `name` of `repo` through `m`'s backend, retrying while routes and addresses settle. */
const readThrough = (m: Member, group: RecordKey, repo: RecordKey, name: string) =>
  eventually(
    `${m.name} reads ${name}`,
    Effect.flatMap(m.node.backend.readFile(group, repo, name), (read) => bytesOf(read.bytes)),
    () => true,
    transient,
  )

/** `node`'s Iroh endpoint as a direct group's member is told it (node id and addresses). */
const irohOf = (node: Started, id: string) =>
  Effect.map(node.backend.status, (status): IrohSource => {
    if (status.iroh === undefined) throw new Error(`${id} has no Iroh endpoint`)
    return { _tag: "IrohSource", id, ...status.iroh }
  })

/** Whether `node`'s store gets blob `hash` from `source` (and nothing else) now. */
const fetchedFrom = (node: Started, source: IrohSource, hash: string) =>
  Effect.map(
    Effect.result(
      node.store.fetch({
        hash: hash as BlobHash,
        kind: "blob",
        sources: [source],
        timeoutMillis: 15_000,
      }),
    ),
    (result) => result._tag === "Success",
  )

layer(NetLive, { excludeTestServices: true, timeout: 300_000 })(
  "removing a member on a private Veilid testnet",
  (it) => {
    it.effect(
      "after removal the removed member sees nothing new, cannot decrypt or fetch, and is shown to no one; the others keep every file",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const [a, b, c] = yield* groupOf(testnet, ["rm-a", "rm-b", "rm-c"])
          if (a === undefined || b === undefined || c === undefined) {
            return yield* Effect.die(new Error("members"))
          }
          const key = a.group.key
          yield* repoOf(a).write("before.bin", Stream.make(pattern(200_000)))
          yield* repoOf(b).write("bob.bin", Stream.make(pattern(150_000)))
          yield* repoOf(c).write("carol.bin", Stream.make(pattern(100_000)))
          // Carol held what every member holds before: the old keys and the others' routes.
          const oldAuth = c.group.group.keys.tunnelAuth
          const oldFileKey = yield* c.group.group.fileKey
          const oldProtocols = groupProtocols(key)
          assert.deepStrictEqual(
            yield* readThrough(c, key, repoOf(a).key, "before.bin"),
            pattern(200_000),
          )

          const { group: to } = yield* a.node.backend.removeMember(key, slotOf(c))
          assert.notStrictEqual(to, key)
          // Bob's backend follows by itself (a watch of the group record).
          yield* eventually(
            "bob follows the rotation",
            Effect.map(b.node.backend.listGroups, (gs) => gs.map((g) => g.key)),
            (keys) => keys.length === 1 && keys[0] === to,
          )
          const aNew = yield* a.node.backend.loadGroup(to)
          const bNew = yield* b.node.backend.loadGroup(to)
          const aRepo = Option.getOrThrow(aNew.repo)
          const bRepo = Option.getOrThrow(bNew.repo)
          const after = yield* aRepo.write("after.bin", Stream.make(pattern(180_000)))

          // The others see every file as before (re-encrypted under the new key) and the new one.
          const everyone = ["M0/after.bin", "M0/before.bin", "M1/bob.bin"]
          for (const m of [a, b]) {
            assert.deepStrictEqual(yield* filesByOwner(m.node.backend, to), everyone)
          }
          assert.deepStrictEqual(
            yield* readThrough(b, to, aRepo.key, "before.bin"),
            pattern(200_000),
          )
          assert.deepStrictEqual(
            yield* readThrough(b, to, aRepo.key, "after.bin"),
            pattern(180_000),
          )
          assert.deepStrictEqual(yield* readThrough(a, to, bRepo.key, "bob.bin"), pattern(150_000))

          // Carol lists no new file: her backend still knows only the old group.
          assert.deepStrictEqual(
            (yield* c.node.backend.listGroups).map((g) => g.key),
            [key],
          )
          assert.notInclude(yield* filesByOwner(c.node.backend, key), "M0/after.bin")
          // She cannot decrypt a file added after the removal, even with its bytes in hand.
          const stored = yield* storedBytes(a.node, after.hash)
          const refused = yield* failureOf(
            decryptFile(oldFileKey, stored, { associatedData: FILE_AD }),
          )
          assert.strictEqual(refused._tag, "DecryptError")
          assert.deepStrictEqual(
            yield* decryptFile(yield* aNew.group.fileKey, stored, { associatedData: FILE_AD }),
            pattern(180_000),
          )

          // Her tunnel key no longer opens anything: the others' live routes refuse her.
          for (const [owner, repo] of [
            [a, aRepo],
            [b, bRepo],
          ] as const) {
            const [route] = yield* eventually(
              `${owner.name}'s route is published`,
              repo.routes,
              (r) => r.length > 0,
            )
            if (route === undefined) return yield* Effect.die(new Error("no route"))
            // The route is live: a remaining member gets an answer with the new key.
            const member = owner === a ? b : a
            const peer = yield* member.node.tunnels.connect(route, aNew.group.keys.tunnelAuth)
            yield* eventually(
              `${member.name} is answered on ${owner.name}'s route`,
              peer.request(groupProtocols(to).ping, new Uint8Array(0), {
                maxResponseBytes: 16 * 1024,
              }),
              () => true,
              ["PeerUnreachable", "PeerBusy"],
            )
            const removed = yield* c.node.tunnels.connect(route, oldAuth)
            for (const protocol of [oldProtocols.ping, oldProtocols.blobs, oldProtocols.iroh]) {
              const answer = yield* failureOf(
                removed.request(protocol, new Uint8Array(0), { maxResponseBytes: 16 * 1024 }),
              )
              assert.include(["Unauthorized", "UnknownProtocol"], answer._tag)
            }
          }
          // And her backend fetches nothing: the old repos' routes are cleared.
          const fetch = yield* failureOf(
            Effect.flatMap(c.node.backend.readFile(key, repoOf(b).key, "bob.bin"), (read) =>
              read.open(),
            ),
          )
          assert.include(["NotLocal", "NoSource", "AllSourcesFailed"], fetch._tag)

          // Nothing she writes is shown to anyone.
          yield* repoOf(c).write("late.bin", Stream.make(pattern(50_000)))
          for (const m of [a, b]) {
            const seen = yield* filesByOwner(m.node.backend, to)
            assert.isFalse(seen.some((f) => f.startsWith("M2/")))
            assert.deepStrictEqual(
              (yield* m.node.backend.members(to)).map((x) => x.name),
              ["M0", "M1"],
            )
          }
        }),
      timeout,
    )

    it.effect(
      "a member offline during the removal follows when it starts again, and its files stay readable",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const [a, b, c] = yield* groupOf(testnet, ["away-a", "away-b", "away-c"])
          if (a === undefined || b === undefined || c === undefined) {
            return yield* Effect.die(new Error("members"))
          }
          const key = a.group.key
          yield* repoOf(b).write("bob.bin", Stream.make(pattern(120_000)))
          yield* b.node.stop
          const { group: to } = yield* a.node.backend.removeMember(key, slotOf(c))
          const aNew = yield* a.node.backend.loadGroup(to)
          yield* Option.getOrThrow(aNew.repo).write("news.bin", Stream.make(pattern(90_000)))

          // Bob's node starts again on the same data dir and loads what it knows, as the daemon does.
          const back = yield* start(testnet, "away-b", b.node.storageDir)
          yield* back.backend.loadGroup(key)
          yield* eventually(
            "bob follows the rotation",
            Effect.map(back.backend.listGroups, (gs) => gs.map((g) => g.key)),
            (keys) => keys.length === 1 && keys[0] === to,
          )
          const bob: Member = { node: back, group: yield* back.backend.loadGroup(to), name: "M1" }
          const bobRepo = Option.getOrThrow(bob.group.repo)
          assert.deepStrictEqual(
            yield* readThrough(bob, to, Option.getOrThrow(aNew.repo).key, "news.bin"),
            pattern(90_000),
          )
          assert.deepStrictEqual(
            yield* readThrough(a, to, bobRepo.key, "bob.bin"),
            pattern(120_000),
          )
          assert.deepStrictEqual(
            (yield* a.node.backend.members(to)).map((m) => m.name),
            ["M0", "M1"],
          )
        }),
      timeout,
    )

    it.effect(
      "removed from a direct group: the Iroh endpoints it was told give it no blob it knew, but one whose new hash it names",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const [a, b, c] = yield* groupOf(testnet, ["drm-a", "drm-b", "drm-c"], {
            transport: "direct",
          })
          if (a === undefined || b === undefined || c === undefined) {
            return yield* Effect.die(new Error("members"))
          }
          const key = a.group.key
          const seen = yield* repoOf(a).write("seen.bin", Stream.make(pattern(120_000, 1)))
          const unread = yield* repoOf(a).write("unread.bin", Stream.make(pattern(110_000, 2)))
          const probe = yield* repoOf(a).write("probe.bin", Stream.make(pattern(100_000, 3)))
          // Carol reads a file, so she asks for and is told Alice's address (a direct group).
          yield* readThrough(c, key, repoOf(a).key, "seen.bin")
          const alice = yield* irohOf(a.node, "iroh:alice")
          // The endpoint answers her, by hash alone: the probe was never read by her.
          assert.isTrue(yield* fetchedFrom(c.node, alice, probe.hash), "carol fetches before")

          const { group: to } = yield* a.node.backend.removeMember(key, slotOf(c))
          yield* eventually(
            "bob follows the rotation",
            Effect.map(b.node.backend.listGroups, (gs) => gs.map((g) => g.key)),
            (keys) => keys.length === 1 && keys[0] === to,
          )
          const aRepo = Option.getOrThrow((yield* a.node.backend.loadGroup(to)).repo)
          const after = yield* aRepo.write("after.bin", Stream.make(pattern(130_000, 4)))

          // Every old blob is freed by the rotation: one she knew of but never fetched is not
          // handed to her any more (the others she holds already).
          for (const hash of [seen.hash, unread.hash, probe.hash]) {
            yield* eventually(
              "alice frees the old blob",
              holdsBlobFile(a.node, hash),
              (held) => !held,
            )
          }
          assert.isFalse(yield* fetchedFrom(c.node, alice, unread.hash), "an old blob")
          // The files moved under new hashes, which nothing gives her...
          const moved = (yield* a.node.backend.files(to, aRepo.key)).map((f) => f.hash)
          assert.lengthOf(moved, 4)
          for (const hash of [seen.hash, unread.hash, probe.hash]) assert.notInclude(moved, hash)
          // ...but the endpoint checks no key: named, a new blob is handed to her (the
          // threat model says so in bold; she still cannot decrypt it).
          assert.isTrue(yield* fetchedFrom(c.node, alice, after.hash), "the endpoint checks no key")
        }),
      timeout,
    )
  },
)
