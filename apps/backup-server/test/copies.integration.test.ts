// Copies of a file as its owner sees them, on a private Veilid testnet: members' real
// backends in this process, the backup server as a real process, every holder asked to
// prove possession over its private route. Run inside `veilid-testnet exec`.
import { assert, layer } from "@effect/vitest"
import { makeBackend, makeNode, sweepStore } from "@save-dweb/backend"
import { blake3, concatBytes } from "@save-dweb/crypto"
import { groupProtocols, ProofAnswer } from "@save-dweb/data-repo"
import { pattern } from "@save-dweb/test-support"
import { requestHandler } from "@save-dweb/tunnels"
import { formatLink } from "@save-dweb/uri-scheme"
import { Effect, Exit, Option, Schema, Scope, Stream } from "effect"
import {
  eventually,
  holdsBlobFile,
  Net,
  NetLive,
  startMember,
  startServer,
  tempDir,
  timeout,
} from "./testnet.ts"

const transient = [
  "BackupUnreachable",
  "PeerUnreachable",
  "NoSource",
  "AllSourcesFailed",
  "NotLocal",
]
const AnswerJson = Schema.fromJsonString(ProofAnswer)

layer(NetLive, { excludeTestServices: true, timeout })(
  "copies on a private Veilid testnet",
  (it) => {
    it.effect(
      "copies lists the member that synced the file and the backup server, drops the member after it unpins with sync off (its blob file gone), never the holder that lies, and the stopped server as unknown",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const server = yield* startServer(testnet, yield* tempDir, {
            node: "backup-5",
            name: "Archive box",
          })
          const a = yield* startMember(testnet, "copies-a", yield* tempDir)
          const created = yield* a.backend.createGroup("Footage", { memberName: "Alice" })
          const aRepo = Option.getOrThrow(created.repo).key
          const clip = yield* a.backend.writeFile(
            created.key,
            "clip.bin",
            Stream.make(pattern(300_000, 5)),
          )
          yield* eventually(
            "A registers the group with the server",
            a.backend.addBackup(created.key, server.link),
            () => true,
            transient,
          )

          // Bob syncs the group once (no background sync: sync is off between passes).
          const b = yield* startMember(testnet, "copies-b", yield* tempDir)
          yield* eventually(
            "B joins",
            b.backend.joinGroup(formatLink(yield* created.group.invite("write")), {
              memberName: "Bob",
            }),
          )
          yield* eventually(
            "B syncs A's repo",
            b.backend.syncGroup(created.key),
            (result) => result.synced.has(aRepo),
            transient,
          )
          assert.isTrue(yield* holdsBlobFile(b.storageDir, clip.hash))

          // Carol holds nothing and answers every challenge with a digest of zeros; the
          // count shows she was asked, so her absence from the list is her proof failing.
          let carolAnswered = 0
          const cScope = yield* Scope.make()
          yield* Effect.addFinalizer(() => Scope.close(cScope, Exit.void))
          const cDir = yield* tempDir
          const cNode = yield* Scope.provide(cScope)(
            makeNode({
              storageDir: cDir,
              network: { veilidConfig: testnet.nodeConfig("copies-c") },
              veilid: { readyTimeout: "120 seconds" },
              iroh: { ipv4Addr: "127.0.0.1:0", ipv6Addr: "[::1]:0" },
            }),
          )
          yield* Scope.provide(cScope)(
            cNode.tunnels.serve(
              groupProtocols(created.key).proof,
              requestHandler((body) =>
                Effect.sync(() => {
                  carolAnswered++
                  return new TextEncoder().encode(
                    Schema.encodeSync(AnswerJson)({
                      _tag: "Proof",
                      digest: Buffer.from(blake3(concatBytes(body, new Uint8Array(64)))).toString(
                        "hex",
                      ),
                    }),
                  )
                }),
              ),
              { keys: [created.group.keys.tunnelAuth] },
            ),
          )
          yield* sweepStore(cNode)
          const c = yield* Scope.provide(cScope)(makeBackend({ storageDir: cDir, ...cNode }))
          yield* eventually(
            "C joins",
            c.joinGroup(formatLink(yield* created.group.invite("write")), { memberName: "Carol" }),
          )

          const holders = (copies: {
            readonly copies: ReadonlyArray<{ readonly name: string; readonly status: string }>
          }) =>
            copies.copies
              .filter((x) => x.status === "verified")
              .map((x) => x.name)
              .sort()
          const both = yield* eventually(
            "copies lists Bob and the backup server",
            a.backend.fileCopies(created.key, "mine", "clip.bin"),
            (copies) => holders(copies).length === 2,
            transient,
          )
          assert.deepStrictEqual(holders(both), ["Archive box", "Bob"])
          assert.isAbove(carolAnswered, 0)
          assert.isFalse(both.copies.some((x) => x.name === "Carol"))
          for (const copy of both.copies) {
            assert.strictEqual(copy.how, "proof")
            assert.isNumber(copy.since)
          }

          // Bob drops his synced copy: its data file leaves his disk, the next check lists
          // only the server.
          yield* b.backend.unpin(created.key, aRepo, "clip.bin")
          assert.isFalse(yield* holdsBlobFile(b.storageDir, clip.hash))
          assert.deepStrictEqual(
            (yield* b.backend.files(created.key, aRepo)).map((f) => [f.status, f.pinned]),
            [["remote-only", false]],
          )
          const after = yield* eventually(
            "copies drops Bob",
            a.backend.fileCopies(created.key, "mine", "clip.bin"),
            (copies) => !holders(copies).includes("Bob"),
            transient,
          )
          assert.deepStrictEqual(holders(after), ["Archive box"])
          assert.isFalse(after.copies.some((x) => x.name === "Carol" || x.name === "Bob"))

          // The server goes away: it is reported as unknown, never as holding.
          assert.strictEqual(yield* server.stop, 0)
          const gone = yield* a.backend.fileCopies(created.key, "mine", "clip.bin")
          assert.strictEqual(gone.verified, 0)
          assert.deepStrictEqual(
            gone.copies
              .filter((x) => x.name === "Archive box")
              .map((x) => [x.name, x.status, x.since, x.how]),
            [["Archive box", "unknown", undefined, undefined]],
          )
          // Bob, who dropped his copy, and Carol, who never had it, say so (not listed) or,
          // on a busy testnet, do not answer in time (unknown): never holding.
          for (const other of gone.copies.filter((x) => x.name !== "Archive box")) {
            assert.include(["Bob", "Carol"], other.name)
            assert.strictEqual(other.status, "unknown")
          }
        }),
      timeout,
    )
  },
)
