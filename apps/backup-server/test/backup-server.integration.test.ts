// The backup server on a private Veilid testnet, as a real process (`src/main.ts` with a
// config file: its own Veilid node, Iroh store and private route), with members' real
// backends in this process. Run inside `veilid-testnet exec`; waits have deadlines.
import { dirname } from "node:path"
import { assert, layer } from "@effect/vitest"
import { decryptFileStream, openEnvelope } from "@save-dweb/crypto"
import { bytesOf, failureOf, pattern } from "@save-dweb/test-support"
import { formatLink, parseBackupDescriptor } from "@save-dweb/uri-scheme"
import { Effect, Option, Result, Stream } from "effect"
import {
  blobFileBytes,
  eventually,
  filesContaining,
  holdsBlobFile,
  Net,
  NetLive,
  startMember,
  startServer,
  tempDir,
  timeout,
} from "./testnet.ts"

const FILE_AD = new TextEncoder().encode("save-dweb/data-repo/file/v1")

/** Failures worth another try while routes, records and Iroh addresses settle. */
const transient = [
  "BackupUnreachable",
  "PeerUnreachable",
  "NoSource",
  "AllSourcesFailed",
  "NotLocal",
  "PeerBusy",
]

// Distinctive names, searched for on the server's disk and in its output: none may be there.
const GROUP = "Zanzibar Ledger"
const MEMBER_A = "Quintessa Aardvark"
const MEMBER_B = "Bartholomew Yarrow"
const REPO_A = "Quintessa's Marmalade Notes"
const FILE = "Ophelia-Periwinkle-trip.bin"

const contains = (haystack: Uint8Array, needle: Uint8Array): boolean =>
  Buffer.from(haystack).indexOf(Buffer.from(needle)) >= 0

layer(NetLive, { excludeTestServices: true, timeout })(
  "the backup server on a private Veilid testnet",
  (it) => {
    it.effect(
      "A registers the group and goes offline; B joins later and reads A's file from the server; A's delete empties its store; the server stores and logs no name",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const server = yield* startServer(testnet, yield* tempDir, { name: "Testnet box" })
          const descriptor = yield* parseBackupDescriptor(server.link)
          assert.strictEqual(descriptor.name, "Testnet box")

          // Member A: a group, a file of 300 kB (a data file of its own in Iroh's store).
          const aDir = yield* tempDir
          const a = yield* startMember(testnet, "member-a", aDir)
          const created = yield* a.backend.createGroup(GROUP, {
            memberName: MEMBER_A,
            repoName: REPO_A,
          })
          const bytes = pattern(300_000, 17)
          const file = yield* Option.getOrThrow(created.repo).write(FILE, Stream.make(bytes))
          const invite = formatLink(yield* created.group.invite("write"))

          const added = yield* eventually(
            "A registers the group with the server",
            a.backend.addBackup(created.key, server.link),
            () => true,
            transient,
          )
          assert.deepStrictEqual(added, {
            group: created.key,
            server: descriptor.record,
            name: "Testnet box",
            already: false,
          })
          yield* eventually(
            "the server stores A's file",
            holdsBlobFile(server.dataDir, file.hash),
            (h) => h,
          )
          const held = yield* a.backend.listBackups(server.link)
          // The server answers no name (the replicate link has none, the group's is
          // sealed); A's backend fills in its own.
          assert.deepStrictEqual(
            held.map((g) => [g.key, g.name, g.tier]),
            [[created.key, GROUP, "replicate"]],
          )

          // A goes offline (its route cleared from its repo record).
          yield* a.stop

          // B joins later, with A offline: the file comes from the server.
          const b = yield* startMember(testnet, "member-b", yield* tempDir)
          const joined = yield* eventually(
            "B joins",
            b.backend.joinGroup(invite, { memberName: MEMBER_B }),
          )
          const theirs = yield* joined.openRepo(Option.getOrThrow(created.repo).key)
          assert.deepStrictEqual(yield* theirs.routes, [])
          assert.deepStrictEqual(
            (yield* b.backend.groupBackups(created.key)).map((x) => x.server),
            [descriptor.record],
          )
          const read = yield* eventually(
            "B reads A's file from the server",
            bytesOf(theirs.read(FILE)),
            (r) => r.length === bytes.length,
            transient,
          )
          assert.isTrue(Buffer.from(read).equals(Buffer.from(bytes)))

          // Blind: the server's copy is ciphertext that only the file key opens.
          const stored = yield* blobFileBytes(server.dataDir, file.hash)
          assert.isFalse(contains(stored, bytes.subarray(0, 64)))
          for (const key of [joined.group.keys.dhtValues, joined.group.keys.tunnelAuth]) {
            const opened = yield* Effect.result(
              bytesOf(
                Stream.make(stored).pipe(decryptFileStream(key, { associatedData: FILE_AD })),
              ),
            )
            assert.isTrue(Result.isFailure(opened))
            assert.isTrue(Result.isFailure(yield* Effect.result(openEnvelope(key, stored))))
          }
          const plain = yield* bytesOf(
            Stream.make(stored).pipe(
              decryptFileStream(yield* joined.group.fileKey, { associatedData: FILE_AD }),
            ),
          )
          assert.isTrue(Buffer.from(plain).equals(Buffer.from(bytes)))

          // A comes back and deletes the file; the server's next pass frees it from disk.
          const again = yield* startMember(testnet, "member-a", aDir)
          const reloaded = yield* again.backend.loadGroup(created.key)
          // B's entry (with its name) is in the group record the server follows by now.
          assert.deepStrictEqual(
            (yield* reloaded.group.members).map((m) => m.name),
            [MEMBER_A, MEMBER_B],
          )
          yield* Option.getOrThrow(reloaded.repo).delete(FILE)
          yield* eventually(
            "the server frees the deleted file",
            holdsBlobFile(server.dataDir, file.hash),
            (h) => !h,
          )
          // The pass logs once it has ended, a moment after the file left the disk.
          yield* eventually(
            "the pass that freed it is logged",
            Effect.sync(() =>
              server.logs.some((l) => l.message === "backup-server: pass" && Number(l.freed) > 0),
            ),
            (logged) => logged,
          )
          assert.strictEqual(yield* server.stop, 0)

          // No name the server could have learned is in any file under its directory (data
          // dir and config; Veilid's table store is also encrypted at rest with a key kept
          // beside it) or in anything it wrote to stdout or stderr.
          const serverDir = dirname(server.dataDir)
          const names = [GROUP, MEMBER_A, MEMBER_B, REPO_A, FILE, "Zanzibar", "Marmalade"]
          const output = server.output.join("\n")
          for (const name of names) {
            assert.deepStrictEqual(yield* filesContaining(serverDir, name), [], name)
            assert.notInclude(output, name)
          }
          // The searches do find what is there: the server's own name in its config, the
          // group's key in its logs.
          assert.deepStrictEqual(yield* filesContaining(serverDir, "Testnet box"), [
            `${serverDir}/server.json`,
          ])
          assert.include(output, created.key)
        }),
      timeout,
    )

    it.effect(
      "A deletes a file B downloaded, C synced and the server copied: after their syncs no disk has it, B's across a restart",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const server = yield* startServer(testnet, yield* tempDir, { node: "backup-3" })
          const a = yield* startMember(testnet, "delete-a", yield* tempDir)
          const created = yield* a.backend.createGroup("Gone", { memberName: "A" })
          const aRepo = Option.getOrThrow(created.repo).key
          const gone = yield* a.backend.writeFile(
            created.key,
            "gone.bin",
            Stream.make(pattern(200_000, 21)),
          )
          const stays = yield* a.backend.writeFile(
            created.key,
            "stays.bin",
            Stream.make(pattern(100_000, 22)),
          )
          yield* eventually(
            "A registers the group with the server",
            a.backend.addBackup(created.key, server.link),
            () => true,
            transient,
          )
          yield* eventually(
            "the server copies A's file",
            holdsBlobFile(server.dataDir, gone.hash),
            (h) => h,
          )

          // B downloads the file (`file get`: fetched and pinned), C syncs the repo.
          const bDir = yield* tempDir
          const b = yield* startMember(testnet, "delete-b", bDir)
          const bGroup = yield* eventually(
            "B joins",
            b.backend.joinGroup(formatLink(yield* created.group.invite("write")), {
              memberName: "B",
            }),
          )
          yield* eventually(
            "B downloads A's file",
            Effect.flatMap(b.backend.readFile(bGroup.key, aRepo, "gone.bin"), (r) =>
              bytesOf(r.bytes),
            ),
            (bytes) => bytes.length === 200_000,
            transient,
          )
          assert.isTrue(yield* holdsBlobFile(bDir, gone.hash))
          const cDir = yield* tempDir
          const c = yield* startMember(testnet, "delete-c", cDir)
          const cGroup = yield* eventually(
            "C joins",
            c.backend.joinGroup(formatLink(yield* created.group.invite("read"))),
          )
          yield* eventually(
            "C syncs A's repo",
            Effect.andThen(c.backend.syncGroup(cGroup.key), holdsBlobFile(cDir, gone.hash)),
            (h) => h,
            transient,
          )
          // B is offline while A deletes: its pin must be dropped by its next process.
          yield* b.stop

          yield* a.backend.deleteFile(created.key, "gone.bin")
          assert.isFalse(yield* holdsBlobFile(a.storageDir, gone.hash))
          yield* eventually(
            "C's sync frees the deleted file",
            Effect.andThen(c.backend.syncGroup(cGroup.key), holdsBlobFile(cDir, gone.hash)),
            (h) => !h,
            transient,
          )
          assert.isTrue(yield* holdsBlobFile(cDir, stays.hash))
          const bAgain = yield* startMember(testnet, "delete-b", bDir)
          yield* eventually(
            "B's sync after its restart frees the file it downloaded",
            Effect.andThen(bAgain.backend.syncGroup(bGroup.key), holdsBlobFile(bDir, gone.hash)),
            (h) => !h,
            transient,
          )
          assert.isTrue(yield* holdsBlobFile(bDir, stays.hash))
          yield* eventually(
            "the server frees the deleted file",
            holdsBlobFile(server.dataDir, gone.hash),
            (h) => !h,
          )
          assert.isTrue(yield* holdsBlobFile(server.dataDir, stays.hash))
          assert.strictEqual(yield* server.stop, 0)
        }),
      timeout,
    )

    it.effect(
      "a restart keeps the link and the groups; strangers are refused; remove frees the group's blobs",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const serverDir = yield* tempDir
          const first = yield* startServer(testnet, serverDir, { node: "backup-2" })
          const c = yield* startMember(testnet, "member-c", yield* tempDir)
          const created = yield* c.backend.createGroup("Kept", { memberName: "C" })
          const file = yield* Option.getOrThrow(created.repo).write(
            "kept.bin",
            Stream.make(pattern(100_000, 5)),
          )
          yield* eventually(
            "C registers the group",
            c.backend.addBackup(created.key, first.link),
            () => true,
            transient,
          )
          yield* eventually(
            "the server stores C's file",
            holdsBlobFile(first.dataDir, file.hash),
            (h) => h,
          )
          // The pass that fetched it has ended (its held roots are saved, so the start-up
          // sweep keeps the file): a stop in the middle of a pass would leave the copy to
          // the sweep and the next pass, which fetches it again.
          yield* eventually(
            "the pass that fetched it is logged",
            Effect.sync(() =>
              first.logs.some((l) => l.message === "backup-server: pass" && Number(l.updated) > 0),
            ),
            (logged) => logged,
          )

          // A stranger with the route but another access secret gets a refusal only.
          const descriptor = yield* parseBackupDescriptor(first.link)
          const wrong = first.link.replace(
            /access=[A-Za-z0-9_-]+/,
            `access=${Buffer.alloc(32, 3).toString("base64url")}`,
          )
          const refused = yield* failureOf(c.backend.listBackups(wrong))
          assert.strictEqual(refused._tag, "BackupRefused")

          // Stop: the route is cleared before Veilid goes; then nobody is reached.
          assert.strictEqual(yield* first.stop, 0)
          const messages = first.logs.map((l) => l.message)
          assert.include(messages, "backup-server: route cleared")
          assert.include(messages, "stopped")
          const down = yield* failureOf(c.backend.listBackups(first.link))
          assert.strictEqual(down._tag, "BackupUnreachable")

          const second = yield* startServer(testnet, serverDir)
          assert.strictEqual(second.link, first.link)
          const listed = yield* eventually(
            "the restarted server answers",
            c.backend.listBackups(second.link),
            (groups) => groups.length === 1,
            transient,
          )
          assert.deepStrictEqual(
            listed.map((g) => [g.key, g.tier]),
            [[created.key, "replicate"]],
          )
          yield* eventually(
            "the restarted server holds C's file",
            holdsBlobFile(second.dataDir, file.hash),
            (h) => h,
          )

          const removed = yield* eventually(
            "C removes the group from the server",
            c.backend.removeBackup(created.key, second.link),
            () => true,
            transient,
          )
          assert.isTrue(removed.held)
          assert.isAbove(removed.freed, 0)
          assert.isFalse(yield* holdsBlobFile(second.dataDir, file.hash))
          assert.deepStrictEqual(yield* c.backend.listBackups(second.link), [])
          assert.deepStrictEqual(yield* c.backend.groupBackups(created.key), [])
          assert.strictEqual(descriptor.record, (yield* parseBackupDescriptor(second.link)).record)
          assert.strictEqual(yield* second.stop, 0)
        }),
      timeout,
    )
  },
)
