// Backup servers listed in repo records, found as sources, syncing as a backup, and the
// roots a sync holds kept across instances; over the memory layers.
import { assert, describe, it } from "@effect/vitest"
import { BlobStore, type BlobStoreService, layerMemory, tunnelSource } from "@save-dweb/blob-store"
import { SecretKey } from "@save-dweb/crypto"
import {
  defineRecord,
  MemoryDhtNetwork,
  type MemoryDhtNetworkShape,
  makeMemoryDhtRecords,
} from "@save-dweb/dht-records"
import { type Group, makeGroups } from "@save-dweb/group"
import { MemoryNetwork, type MemoryNetworkShape, makeTunnelsMemory } from "@save-dweb/tunnels"
import { Context, Effect, Layer, Option, Redacted, Schema, Stream } from "effect"
import {
  BACKUP_RECORD_SUBKEYS,
  BackupRecord,
  type BackupRef,
  backupRouteKey,
  groupProtocols,
  MAX_BACKUPS,
  makeDataRepos,
  memorySyncState,
  type SyncStateStore,
} from "../src/index.ts"
import { bytesOf, failureOf, pattern } from "./support.ts"

const networks = Effect.gen(function* () {
  const dht = yield* MemoryDhtNetwork.make()
  const net = Context.get(yield* Layer.build(MemoryNetwork.layer()), MemoryNetwork)
  return { dht, net }
})

const person = (
  dht: MemoryDhtNetworkShape,
  net: MemoryNetworkShape,
  options: { readonly store?: BlobStoreService; readonly syncState?: SyncStateStore } = {},
) =>
  Effect.gen(function* () {
    const records = yield* makeMemoryDhtRecords(dht)
    const store = options.store ?? Context.get(yield* Layer.build(layerMemory()), BlobStore)
    const tunnels = yield* makeTunnelsMemory().pipe(Effect.provideService(MemoryNetwork, net))
    return {
      records,
      groups: makeGroups(records),
      store,
      tunnels,
      repos: makeDataRepos(records, store, {
        tunnels,
        ...(options.syncState === undefined ? {} : { syncState: options.syncState }),
      }),
    }
  })

type Person = Effect.Success<ReturnType<typeof person>>

/**
 * What a backup server does on the memory layers: a descriptor record with its route,
 * sealed with the route key of a random access secret, and the group served on its tunnel.
 */
const backupServer = (p: Person) =>
  Effect.gen(function* () {
    const access = yield* SecretKey.generate
    const routeKey = backupRouteKey(access)
    const record = yield* p.records.create(BackupRecord, {
      schema: { kind: "DFLT", subkeys: BACKUP_RECORD_SUBKEYS },
      encryptionKey: routeKey,
    })
    yield* record.set(0, { route: (yield* p.tunnels.route).blob, at: Date.now() })
    const ref = (name?: string): Omit<BackupRef, "at"> => ({
      record: record.key,
      routeKey: Uint8Array.from(routeKeyBytes(routeKey)),
      ...(name === undefined ? {} : { name }),
    })
    return { record, ref }
  })

const routeKeyBytes = (key: SecretKey): Uint8Array => Redacted.value(key)

const setup = (policy: "any" | "owner-only") =>
  Effect.gen(function* () {
    const { dht, net } = yield* networks
    const alice = yield* person(dht, net)
    const group = yield* alice.groups.create("g", { memberName: "Alice", sourcePolicy: policy })
    const joinAs = (tier: "write" | "read" | "replicate", who: Person, memberName?: string) =>
      Effect.flatMap(group.invite(tier), (invite) =>
        who.groups.join(invite, memberName === undefined ? {} : { memberName }),
      )
    return { dht, net, alice, group, joinAs }
  })

describe("backup servers in repo records", () => {
  it.live("a repo lists backups that every tier reads; read links and others' repos cannot", () =>
    Effect.gen(function* () {
      const { dht, net, alice, group, joinAs } = yield* setup("any")
      const repo = yield* alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels })
      assert.deepStrictEqual(yield* repo.backups, [])
      const server = yield* backupServer(yield* person(dht, net))
      const listed = yield* repo.addBackup(server.ref("Archive"))
      assert.deepStrictEqual(
        listed.map((b) => [b.record, b.name]),
        [[server.record.key, "Archive"]],
      )
      // Listing the same record again replaces its entry.
      assert.strictEqual((yield* repo.addBackup(server.ref("Renamed"))).length, 1)

      const reader = yield* person(dht, net)
      const readGroup = yield* joinAs("replicate", reader)
      const theirs = yield* reader.repos.open(readGroup, repo.key)
      assert.deepStrictEqual(
        (yield* theirs.backups).map((b) => [b.record, b.name, b.routeKey.length]),
        [[server.record.key, "Renamed", 32]],
      )
      assert.strictEqual(yield* theirs.name, "Alice")
      const refused = yield* failureOf(theirs.addBackup(server.ref()))
      assert.strictEqual(refused._tag, "NotWritable")
      // A rename keeps the list; only the owner renames.
      yield* repo.rename("Alice's photos")
      assert.strictEqual(yield* repo.name, "Alice's photos")
      const later = yield* person(dht, net)
      const fresh = yield* later.repos.open(yield* joinAs("read", later), repo.key)
      assert.strictEqual(yield* fresh.name, "Alice's photos")
      assert.strictEqual((yield* theirs.backups).length, 1)
      assert.strictEqual((yield* failureOf(theirs.rename("x")))._tag, "NotWritable")

      assert.deepStrictEqual(yield* repo.removeBackup(server.record.key), [])
      assert.deepStrictEqual(yield* theirs.backups, [])
      // Removing what is not listed changes nothing.
      assert.deepStrictEqual(yield* repo.removeBackup(server.record.key), [])
    }).pipe(Effect.scoped),
  )

  it.live("at most MAX_BACKUPS are listed: one more is TooManyBackups", () =>
    Effect.gen(function* () {
      const { alice, group } = yield* setup("any")
      const repo = yield* alice.repos.create(group, { name: "Alice" })
      const fake = (i: number): Omit<BackupRef, "at"> => ({
        record: `VLD0:${String(i).padStart(43, "A")}`,
        routeKey: new Uint8Array(32).fill(i),
      })
      for (let i = 0; i < MAX_BACKUPS; i++) yield* repo.addBackup(fake(i))
      const error = yield* failureOf(repo.addBackup(fake(MAX_BACKUPS)))
      assert.strictEqual(error._tag, "TooManyBackups")
      assert.strictEqual((yield* repo.backups).length, MAX_BACKUPS)
    }).pipe(Effect.scoped),
  )

  it.live("subkey 0 stays readable both ways: records from before backups, and old readers", () =>
    Effect.gen(function* () {
      const { dht, net, alice, group } = yield* setup("any")
      // A record written by a version without `backups` (subkey 0 `{ v: 1, name }` only).
      const OldRepo = defineRecord("data-repo", {
        0: Schema.Struct({ v: Schema.Literal(1), name: Schema.String }),
      })
      const repo = yield* alice.repos.create(group, { name: "Alice" })
      const old = yield* alice.records.open(OldRepo, repo.key, {
        encryptionKey: group.keys.dhtValues,
      })
      assert.deepStrictEqual(
        Option.map(yield* old.get(0, { refresh: true }), (e) => e.value),
        Option.some({ v: 1 as const, name: "Alice" }),
      )
      assert.deepStrictEqual(yield* repo.backups, [])
      // An old reader opens a value that lists a backup.
      const server = yield* backupServer(yield* person(dht, net))
      yield* repo.addBackup(server.ref())
      assert.deepStrictEqual(
        Option.map(yield* old.get(0, { refresh: true }), (e) => e.value),
        Option.some({ v: 1 as const, name: "Alice" }),
      )
    }).pipe(Effect.scoped),
  )
})

/** The backup replicates the group as a backup server does: served on its own tunnel. */
const replicateTo = (backup: Person, group: Group, record: string) =>
  backup.repos.syncAll(group, { asBackup: record })

describe("backup servers as sources", () => {
  it.live("with the owner offline, a member who joins later reads the file from the backup", () =>
    Effect.gen(function* () {
      for (const policy of ["any", "owner-only"] as const) {
        const { dht, net, alice, group, joinAs } = yield* setup(policy)
        const backup = yield* person(dht, net)
        const server = yield* backupServer(backup)
        const backupGroup = yield* joinAs("replicate", backup)
        assert.isTrue(Option.isNone(yield* Effect.option(backupGroup.fileKey)))
        yield* backup.repos.serve(backupGroup, backup.tunnels)
        const bytes = pattern(90_000, 5)
        const invite = yield* group.invite("write")
        const { key, hash } = yield* Effect.scoped(
          Effect.gen(function* () {
            const repo = yield* alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels })
            const file = yield* repo.write("f.bin", Stream.make(bytes))
            yield* repo.addBackup(server.ref())
            const result = yield* replicateTo(backup, backupGroup, server.record.key)
            assert.strictEqual(result.synced.size, 1, policy)
            return { key: repo.key, hash: file.hash }
          }),
        )
        assert.isTrue(yield* backup.store.has(hash))

        const bob = yield* person(dht, net)
        const bobGroup = yield* bob.groups.join(invite, { memberName: "Bob" })
        const theirs = yield* bob.repos.open(bobGroup, key)
        assert.deepStrictEqual(yield* theirs.routes, [])
        assert.deepStrictEqual(yield* bytesOf(theirs.read("f.bin")), bytes, policy)
      }
    }).pipe(Effect.scoped),
  )

  it.live(
    "under owner-only a backup another member listed is no source for the owner's files",
    () =>
      Effect.gen(function* () {
        const { dht, net, alice, group, joinAs } = yield* setup("owner-only")
        const backup = yield* person(dht, net)
        const server = yield* backupServer(backup)
        const backupGroup = yield* joinAs("replicate", backup)
        const carol = yield* person(dht, net)
        const carolGroup = yield* joinAs("write", carol, "Carol")
        const carolRepo = yield* carol.repos.create(carolGroup, {
          name: "Carol",
          tunnels: carol.tunnels,
        })
        yield* carolRepo.write("c", Stream.make(pattern(1_000, 1)))
        yield* carolRepo.addBackup(server.ref())
        const bytes = pattern(50_000, 8)
        const invite = yield* group.invite("write")
        const key = yield* Effect.scoped(
          Effect.gen(function* () {
            const repo = yield* alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels })
            yield* repo.write("f", Stream.make(bytes))
            // The backup copies Carol's repo (she listed it), not Alice's.
            const result = yield* replicateTo(backup, backupGroup, server.record.key)
            assert.deepStrictEqual([...result.synced.keys()], [carolRepo.key])
            return repo.key
          }),
        )
        const bob = yield* person(dht, net)
        const bobGroup = yield* bob.groups.join(invite, { memberName: "Bob" })
        const error = yield* failureOf(bytesOf((yield* bob.repos.open(bobGroup, key)).read("f")))
        assert.strictEqual(error._tag, "NotLocal")
      }).pipe(Effect.scoped),
  )

  it.live("a backup in an owner-only group purges a repo once its owner stops listing it", () =>
    Effect.gen(function* () {
      const { dht, net, alice, group, joinAs } = yield* setup("owner-only")
      const backup = yield* person(dht, net)
      const server = yield* backupServer(backup)
      const backupGroup = yield* joinAs("replicate", backup)
      const repo = yield* alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels })
      const file = yield* repo.write("f", Stream.make(pattern(40_000, 2)))
      yield* repo.addBackup(server.ref())
      yield* replicateTo(backup, backupGroup, server.record.key)
      assert.isTrue(yield* backup.store.has(file.hash))
      yield* repo.removeBackup(server.record.key)
      const after = yield* backup.repos.syncAll(backupGroup, { asBackup: server.record.key })
      assert.include(after.freed, file.hash)
      assert.isFalse(yield* backup.store.has(file.hash))
    }).pipe(Effect.scoped),
  )
})

describe("sync state across instances", () => {
  it.live("a new instance frees what an earlier one synced once the repo moves on", () =>
    Effect.gen(function* () {
      const { dht, net, alice, group, joinAs } = yield* setup("any")
      const repo = yield* alice.repos.create(group, { name: "Alice", tunnels: alice.tunnels })
      const file = yield* repo.write("f", Stream.make(pattern(60_000, 4)))
      const store = Context.get(yield* Layer.build(layerMemory()), BlobStore)
      const state = memorySyncState()
      const first = yield* person(dht, net, { store, syncState: state })
      const firstGroup = yield* joinAs("replicate", first)
      const synced = yield* first.repos.syncAll(firstGroup, {})
      assert.deepStrictEqual([...(yield* state.load(group.key)).roots], [...synced.synced])

      // A later process on the same store: the root held before is freed after a delete.
      const second = yield* person(dht, net, { store, syncState: state })
      const secondGroup = yield* second.groups.open(firstGroup.credentials)
      yield* second.repos.serve(secondGroup, second.tunnels)
      const unchanged = yield* second.repos.syncAll(secondGroup, {})
      assert.strictEqual(unchanged.synced.size, 1)
      // It serves what it held since the earlier process to the group's members.
      const reader = yield* person(dht, net)
      const readerGroup = yield* joinAs("read", reader)
      const peer = yield* reader.tunnels.connect(
        (yield* second.tunnels.route).blob,
        readerGroup.keys.tunnelAuth,
      )
      yield* reader.store.fetch({
        hash: file.hash,
        kind: "blob",
        sources: [tunnelSource(peer, { id: "second", protocol: groupProtocols(group.key).blobs })],
      })
      assert.isTrue(yield* reader.store.has(file.hash))

      yield* repo.delete("f")
      const after = yield* second.repos.syncAll(secondGroup, {})
      assert.include(after.freed, file.hash)
      assert.isFalse(yield* store.has(file.hash))

      const freed = yield* second.repos.purge(group.key)
      assert.isAbove(freed.length, 0)
      assert.deepStrictEqual(yield* store.list(), [])
      assert.isFalse(state.saved.has(group.key))
    }).pipe(Effect.scoped),
  )
})
