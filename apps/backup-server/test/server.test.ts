// The backup server on memory layers, driven through the backend's backup calls (the
// same request protocol over memory tunnels): refusal of strangers, add / list / remove,
// replication and serving while the owner is offline, purge, restart, and blindness.
import { assert, describe, it } from "@effect/vitest"
import {
  BACKUP_PROTOCOL,
  type BackupResponse,
  backupKeysOf,
  decodeBackupResponse,
  descriptorKeys,
  encodeBackupRequest,
} from "@save-dweb/backend"
import type { BlobHash } from "@save-dweb/blob-store"
import {
  decryptFileStream,
  deriveKey,
  openEnvelope,
  type SecretKey,
  SecretKey as SecretKeyKind,
} from "@save-dweb/crypto"
import { readBackupRoute } from "@save-dweb/data-repo"
import { makeDhtRecords } from "@save-dweb/dht-records"
import {
  decodeCredentials,
  encodeCredentials,
  GroupCredentials,
  makeGroups,
} from "@save-dweb/group"
import { MemoryNetwork, makeTunnelsMemory } from "@save-dweb/tunnels"
import {
  BackupDescriptor,
  formatLink,
  makeSecretKey,
  parseBackupDescriptor,
} from "@save-dweb/uri-scheme"
import { Effect, Option, Redacted, Result, Stream } from "effect"
import {
  bytesOf,
  failureOf,
  type MemoryNode,
  memoryNode,
  type Networks,
  networks,
  pattern,
  startMember,
  startServer,
  until,
} from "./support.ts"

const utf8 = new TextEncoder()
const FILE_AD = utf8.encode("save-dweb/data-repo/file/v1")

/** Every hash the store holds: each root and, for collections, their members. */
const storedHashes = (node: MemoryNode) =>
  Effect.gen(function* () {
    const found = new Set<BlobHash>()
    for (const root of yield* node.store.list()) {
      found.add(root.hash)
      if (root.kind === "collection") {
        for (const entry of yield* node.store.readCollection(root.hash)) found.add(entry.hash)
      }
    }
    return found
  })

/** A member who made a group (policy `any` unless said) and wrote a file into it. */
const owner = (nets: Networks, policy: "any" | "owner-only" = "any") =>
  Effect.gen(function* () {
    const node = yield* memoryNode(nets)
    const member = yield* startMember(nets, node)
    const loaded = yield* member.value.backend.createGroup("Field notes", {
      memberName: "Alice",
      sourcePolicy: policy,
    })
    const repo = Option.getOrThrow(loaded.repo)
    const bytes = pattern(120_000, 3)
    const file = yield* repo.write("notes.bin", Stream.make(bytes))
    return { node, member, loaded, repo, bytes, file }
  })

/** Sends raw request bytes to the server's route with `key`; the reply or the call error. */
const rawCall = (nets: Networks, link: string, key: SecretKey, body: Uint8Array) =>
  Effect.gen(function* () {
    const node = yield* memoryNode(nets)
    const records = yield* makeDhtRecords(node.dht)
    const tunnels = yield* makeTunnelsMemory().pipe(
      Effect.provideService(MemoryNetwork, nets.tunnels),
    )
    const descriptor = yield* parseBackupDescriptor(link)
    const keys = yield* descriptorKeys(descriptor)
    const route = Option.getOrThrow(
      yield* readBackupRoute(records, {
        record: descriptor.record,
        routeKey: Redacted.value(keys.route),
      }),
    )
    const peer = yield* tunnels.connect(route, key)
    return yield* Effect.result(peer.request(BACKUP_PROTOCOL, body))
  })

const responseOf = (result: Result.Result<Uint8Array, { readonly _tag: string }>) => {
  if (Result.isFailure(result)) throw new Error(`call failed: ${result.failure._tag}`)
  return Result.getOrThrow(decodeBackupResponse(result.success)) as BackupResponse
}

describe("the backup server on memory layers", () => {
  it.live(
    "a member adds a group; another who joins later reads its file while the owner is offline",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const serverNode = yield* memoryNode(nets)
        const server = yield* startServer(nets, serverNode, { name: "Archive box" })
        const link = server.value.link
        const parsed = yield* parseBackupDescriptor(link)
        assert.strictEqual(parsed.name, "Archive box")
        const a = yield* owner(nets)
        const invite = formatLink(yield* a.loaded.group.invite("write"))

        const added = yield* a.member.value.backups.addBackup(a.loaded.key, link)
        assert.deepStrictEqual(added, {
          group: a.loaded.key,
          server: parsed.record,
          name: "Archive box",
          already: false,
        })
        const held = yield* a.member.value.backups.listBackups(link)
        assert.deepStrictEqual(
          held.map((g) => [g.key, g.name, g.tier]),
          [[a.loaded.key, "Field notes", "replicate"]],
        )
        // That name is the member's own: the server learns none (the link has none, the
        // group's is sealed).
        assert.deepStrictEqual(
          (yield* server.value.list).map((g) => [g.key, g.name]),
          [[a.loaded.key, null]],
        )
        yield* until("the server holds the file", serverNode.store.has(a.file.hash))
        // Registering again is harmless.
        assert.isTrue((yield* a.member.value.backups.addBackup(a.loaded.key, link)).already)
        assert.deepStrictEqual(
          (yield* a.member.value.backups.groupBackups(a.loaded.key)).map((b) => [
            b.server,
            b.name,
            b.listedBy.map((l) => [l.slot, l.mine]),
          ]),
          [[parsed.record, "Archive box", [[0, true]]]],
        )

        yield* a.member.stop
        const bNode = yield* memoryNode(nets)
        const b = yield* startMember(nets, bNode)
        const joined = yield* b.value.backend.joinGroup(invite, { memberName: "Bob" })
        const theirs = yield* joined.openRepo(a.repo.key)
        assert.deepStrictEqual(yield* theirs.routes, [])
        assert.deepStrictEqual(yield* bytesOf(theirs.read("notes.bin")), a.bytes)
      }).pipe(Effect.scoped),
  )

  it.live("callers without the access secret get a refusal and nothing else", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const serverNode = yield* memoryNode(nets)
      const server = yield* startServer(nets, serverNode)
      const a = yield* owner(nets)
      const descriptor = yield* parseBackupDescriptor(server.value.link)
      const list = encodeBackupRequest({ _tag: "List", v: 1 })

      // A member who read the route key from a repo record, proving the group's tunnel key.
      const asMember = yield* rawCall(nets, server.value.link, a.loaded.group.keys.tunnelAuth, list)
      assert.isTrue(Result.isFailure(asMember))
      if (Result.isFailure(asMember)) assert.strictEqual(asMember.failure._tag, "Unauthorized")
      // A key derived from another access secret.
      const other = yield* backupKeysOf(new Uint8Array(32).fill(9))
      const asStranger = yield* rawCall(nets, server.value.link, other.requests, list)
      assert.isTrue(Result.isFailure(asStranger) && asStranger.failure._tag === "Unauthorized")

      // Through the backend: a link with another access secret does not open the record.
      const wrong = formatLink(
        new BackupDescriptor({
          record: descriptor.record,
          accessSecret: makeSecretKey(new Uint8Array(32).fill(7)),
        }),
      )
      const refused = yield* failureOf(a.member.value.backups.addBackup(a.loaded.key, wrong))
      assert.strictEqual(refused._tag, "BackupRefused")
      if (refused._tag === "BackupRefused") assert.strictEqual(refused.reason, "WrongAccessSecret")
      const bad = yield* failureOf(a.member.value.backups.addBackup(a.loaded.key, "save+dweb:nope"))
      assert.strictEqual(bad._tag, "InvalidBackupLink")
      // Nothing was registered anywhere.
      assert.deepStrictEqual(yield* server.value.list, [])
      assert.deepStrictEqual(yield* a.repo.backups, [])
      assert.deepStrictEqual([...(yield* serverNode.known.all)], [])

      // With the secret, a malformed request is answered as such.
      const keys = yield* descriptorKeys(descriptor)
      const garbage = responseOf(
        yield* rawCall(nets, server.value.link, keys.requests, new Uint8Array([1, 2, 3])),
      )
      assert.strictEqual(garbage._tag, "Rejected")
      if (garbage._tag === "Rejected") assert.strictEqual(garbage.reason, "BadRequest")
    }).pipe(Effect.scoped),
  )

  it.live("links above replicate tier are refused and nothing is kept", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const serverNode = yield* memoryNode(nets)
      const server = yield* startServer(nets, serverNode)
      const a = yield* owner(nets)
      const keys = yield* descriptorKeys(yield* parseBackupDescriptor(server.value.link))
      for (const tier of ["read", "write"] as const) {
        const link = formatLink(yield* a.loaded.group.invite(tier))
        const response = responseOf(
          yield* rawCall(
            nets,
            server.value.link,
            keys.requests,
            encodeBackupRequest({ _tag: "Add", v: 1, link }),
          ),
        )
        assert.strictEqual(response._tag, "Rejected")
        if (response._tag === "Rejected") assert.strictEqual(response.reason, "NotReplicateLink")
      }
      assert.deepStrictEqual(yield* server.value.list, [])
      assert.deepStrictEqual([...(yield* serverNode.known.all)], [])
    }).pipe(Effect.scoped),
  )

  it.live(
    "it holds replicate credentials only, and nothing it stores opens with any key it has",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const serverNode = yield* memoryNode(nets)
        const server = yield* startServer(nets, serverNode)
        const a = yield* owner(nets)
        yield* a.repo.write("second.txt", Stream.make(new TextEncoder().encode("a short secret")))
        yield* a.member.value.backups.addBackup(a.loaded.key, server.value.link)
        yield* until("the server holds both files", serverNode.store.has(a.file.hash))

        const [stored] = yield* serverNode.known.all
        if (stored === undefined) return yield* Effect.die(new Error("nothing stored"))
        assert.strictEqual(stored.tier, "replicate")
        const credentials = yield* decodeCredentials(stored.credentials)
        assert.strictEqual(credentials.capability._tag, "ReplicateCapability")
        const records = yield* makeDhtRecords(serverNode.dht)
        const group = yield* makeGroups(records).open(credentials)
        assert.strictEqual((yield* failureOf(group.fileKey))._tag, "InsufficientCapability")
        assert.strictEqual((yield* failureOf(group.groupSecret))._tag, "InsufficientCapability")

        // Every secret the server holds: the group's replicate keys, its access secret and
        // what derives from it, and its table stores' contents.
        const identity = Option.getOrThrow(yield* serverNode.state.identity)
        const access = yield* SecretKeyKind.fromBytes(identity.access)
        const derived = yield* backupKeysOf(identity.access)
        const held: Array<SecretKey> = [
          group.keys.dhtValues,
          group.keys.tunnelAuth,
          access,
          derived.route,
          derived.requests,
          deriveKey(group.keys.dhtValues, "file-contents"),
        ]
        const hashes = yield* storedHashes(serverNode)
        assert.isTrue(hashes.has(a.file.hash))
        // With the associated data data-repo seals with, so only the key can make it fail.
        const manifestAd = utf8.encode(
          `save-dweb/data-repo/manifest/v1\0${a.repo.key.split(":").slice(0, 2).join(":")}`,
        )
        const ads = [undefined, FILE_AD, manifestAd]
        const withAd = (ad: Uint8Array | undefined) =>
          ad === undefined ? {} : { associatedData: ad }
        let tried = 0
        for (const hash of hashes) {
          const bytes = yield* bytesOf(serverNode.store.read(hash))
          for (const key of held) {
            for (const ad of ads) {
              tried += 1
              const asFile = yield* Effect.result(
                bytesOf(Stream.make(bytes).pipe(decryptFileStream(key, withAd(ad)))),
              )
              assert.isTrue(Result.isFailure(asFile), `blob ${hash} opened as a file`)
              const asEnvelope = yield* Effect.result(openEnvelope(key, bytes, withAd(ad)))
              assert.isTrue(Result.isFailure(asEnvelope), `blob ${hash} opened as an envelope`)
            }
          }
        }
        assert.strictEqual(tried, hashes.size * held.length * ads.length)
        // The file and the manifest are there, readable to whoever holds the file key.
        const fileKey = yield* a.loaded.group.fileKey
        const pointer = Option.getOrThrow(yield* a.repo.pointer)
        assert.isTrue(hashes.has(pointer.manifest))
        const manifest = yield* bytesOf(serverNode.store.read(pointer.manifest))
        assert.isTrue(
          Result.isSuccess(
            yield* Effect.result(openEnvelope(fileKey, manifest, withAd(manifestAd))),
          ),
        )
        const plain = yield* bytesOf(
          serverNode.store.read(a.file.hash).pipe(decryptFileStream(fileKey, withAd(FILE_AD))),
        )
        assert.deepStrictEqual(plain, a.bytes)
      }).pipe(Effect.scoped),
  )

  it.live("a deleted file leaves the server's store; remove frees the rest and unlists it", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const serverNode = yield* memoryNode(nets)
      const server = yield* startServer(nets, serverNode)
      const a = yield* owner(nets)
      const link = server.value.link
      const kept = yield* a.repo.write("kept.bin", Stream.make(pattern(50_000, 9)))
      yield* a.member.value.backups.addBackup(a.loaded.key, link)
      yield* until("the server holds the file", serverNode.store.has(kept.hash))

      yield* a.repo.delete("notes.bin")
      yield* until(
        "the server frees the deleted file",
        Effect.map(serverNode.store.has(a.file.hash), (has) => !has),
      )
      assert.isTrue(yield* serverNode.store.has(kept.hash))

      const removed = yield* a.member.value.backups.removeBackup(a.loaded.key, link)
      assert.isTrue(removed.reached && removed.held)
      assert.isAbove(removed.freed, 0)
      assert.deepStrictEqual(yield* serverNode.store.list(), [])
      assert.deepStrictEqual(yield* a.member.value.backups.listBackups(link), [])
      assert.deepStrictEqual(yield* a.repo.backups, [])
      assert.deepStrictEqual([...(yield* serverNode.known.all)], [])
      // The member no longer keeps the server's link (a rotation does not register it again).
      const entry = Option.getOrThrow(yield* a.node.known.get(a.loaded.key))
      assert.deepStrictEqual(entry.backups ?? [], [])
      // Removing again: the server no longer holds it.
      const again = yield* a.member.value.backups.removeBackup(a.loaded.key, link)
      assert.isFalse(again.held)
    }).pipe(Effect.scoped),
  )

  it.live(
    "the member who added a server removes it by its key alone; an unknown key is UnknownBackup",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const serverNode = yield* memoryNode(nets)
        const server = yield* startServer(nets, serverNode)
        const a = yield* owner(nets)
        const { record } = yield* parseBackupDescriptor(server.value.link)
        const backups = a.member.value.backups
        yield* backups.addBackup(a.loaded.key, server.value.link)
        assert.deepStrictEqual(
          (yield* backups.groupBackups(a.loaded.key)).map((b) => [b.server, b.kept]),
          [[record, true]],
        )
        const unknown = yield* failureOf(backups.removeKeptBackup(a.loaded.key, a.loaded.key))
        assert.strictEqual(unknown._tag, "UnknownBackup")

        const removed = yield* backups.removeKeptBackup(a.loaded.key, record)
        assert.deepStrictEqual(
          [removed.server, removed.reached, removed.held],
          [record, true, true],
        )
        assert.deepStrictEqual(yield* backups.groupBackups(a.loaded.key), [])
        assert.deepStrictEqual(yield* backups.listBackups(server.value.link), [])
        // Its link went with it: a second removal by key has nothing to go by.
        assert.strictEqual(
          (yield* failureOf(backups.removeKeptBackup(a.loaded.key, record)))._tag,
          "UnknownBackup",
        )
      }).pipe(Effect.scoped),
  )

  it.live("a restart keeps the link and the groups, and frees what changed while it was down", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const serverNode = yield* memoryNode(nets)
      const first = yield* startServer(nets, serverNode)
      const a = yield* owner(nets)
      yield* a.member.value.backups.addBackup(a.loaded.key, first.value.link)
      yield* until("the server holds the file", serverNode.store.has(a.file.hash))
      yield* first.stop

      // Stopped: the descriptor record publishes no route.
      const stopped = yield* failureOf(a.member.value.backups.listBackups(first.value.link))
      assert.strictEqual(stopped._tag, "BackupUnreachable")
      yield* a.repo.delete("notes.bin")

      const second = yield* startServer(nets, serverNode)
      assert.strictEqual(second.value.link, first.value.link)
      assert.deepStrictEqual(
        (yield* second.value.list).map((g) => g.key),
        [a.loaded.key],
      )
      yield* until(
        "the restarted server frees the file deleted while it was down",
        Effect.map(serverNode.store.has(a.file.hash), (has) => !has),
      )
      assert.deepStrictEqual(
        (yield* a.member.value.backups.listBackups(second.value.link)).map((g) => g.key),
        [a.loaded.key],
      )
    }).pipe(Effect.scoped),
  )

  it.live("names an earlier version stored (group name, link hint) are dropped at start", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const serverNode = yield* memoryNode(nets)
      const first = yield* startServer(nets, serverNode)
      const a = yield* owner(nets)
      yield* a.member.value.backups.addBackup(a.loaded.key, first.value.link)
      const [fresh] = yield* serverNode.known.all
      if (fresh === undefined) return yield* Effect.die(new Error("nothing stored"))
      assert.isUndefined(fresh.name)
      assert.isUndefined((yield* decodeCredentials(fresh.credentials)).name)
      yield* first.stop

      // What a server before sealed names kept: the group's name, and the link's name hint.
      const credentials = yield* decodeCredentials(fresh.credentials)
      yield* serverNode.known.put({
        ...fresh,
        name: "Field notes",
        credentials: encodeCredentials(
          new GroupCredentials({
            group: credentials.group,
            capability: credentials.capability,
            name: "Field notes",
          }),
        ),
      })
      const second = yield* startServer(nets, serverNode)
      const [scrubbed] = yield* serverNode.known.all
      if (scrubbed === undefined) return yield* Effect.die(new Error("the group was dropped"))
      assert.isUndefined(scrubbed.name)
      assert.isUndefined((yield* decodeCredentials(scrubbed.credentials)).name)
      assert.notInclude(new TextDecoder().decode(scrubbed.credentials), "Field notes")
      assert.deepStrictEqual(
        (yield* second.value.list).map((g) => [g.key, g.name]),
        [[a.loaded.key, null]],
      )
    }).pipe(Effect.scoped),
  )

  it.live("in an owner-only group the server copies only the repos whose owner registered it", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const serverNode = yield* memoryNode(nets)
      const server = yield* startServer(nets, serverNode)
      const a = yield* owner(nets, "owner-only")
      const c = yield* startMember(nets, yield* memoryNode(nets))
      const joined = yield* c.value.backend.joinGroup(
        formatLink(yield* a.loaded.group.invite("write")),
        { memberName: "Carol" },
      )
      const carols = yield* Option.getOrThrow(joined.repo).write(
        "carol.bin",
        Stream.make(pattern(30_000, 4)),
      )
      // Carol registers the group: the server joins, but Alice never listed it.
      yield* c.value.backups.addBackup(joined.key, server.value.link)
      yield* until("the server holds Carol's file", serverNode.store.has(carols.hash))
      assert.isFalse(yield* serverNode.store.has(a.file.hash))
      // Once Alice lists it too (her record changes: the server's watch sees it), hers follow.
      yield* a.member.value.backups.addBackup(a.loaded.key, server.value.link)
      yield* until("the server holds Alice's file", serverNode.store.has(a.file.hash))
    }).pipe(Effect.scoped),
  )

  it.live("at most maxGroups groups: one more is TooManyGroups", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const server = yield* startServer(nets, yield* memoryNode(nets), { maxGroups: 1 })
      const a = yield* owner(nets)
      const b = yield* owner(nets)
      yield* a.member.value.backups.addBackup(a.loaded.key, server.value.link)
      const error = yield* failureOf(
        b.member.value.backups.addBackup(b.loaded.key, server.value.link),
      )
      assert.strictEqual(error._tag, "BackupRefused")
      if (error._tag === "BackupRefused") assert.strictEqual(error.reason, "TooManyGroups")
      // Not listed in the member's record when the server said no.
      assert.deepStrictEqual(yield* b.repo.backups, [])
    }).pipe(Effect.scoped),
  )

  it.live("a read-tier member cannot register a backup (it has no repo to list it in)", () =>
    Effect.gen(function* () {
      const nets = yield* networks
      const server = yield* startServer(nets, yield* memoryNode(nets))
      const a = yield* owner(nets)
      const reader = yield* startMember(nets, yield* memoryNode(nets))
      const joined = yield* reader.value.backend.joinGroup(
        formatLink(yield* a.loaded.group.invite("read")),
      )
      const error = yield* failureOf(reader.value.backups.addBackup(joined.key, server.value.link))
      assert.strictEqual(error._tag, "NotWritable")
      assert.deepStrictEqual(yield* server.value.list, [])
    }).pipe(Effect.scoped),
  )
})
