// A backup server follows a member's removal on a private Veilid testnet: the server as a
// real process, the members' real backends in this process. Nobody runs `backup add` after
// the removal. Run inside `veilid-testnet exec`; waits have deadlines.
import { assert, layer } from "@effect/vitest"
import { pattern } from "@save-dweb/test-support"
import { formatLink } from "@save-dweb/uri-scheme"
import { Effect, Option, Stream } from "effect"
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

/** Failures worth another try while routes, records and addresses settle. */
const transient = ["BackupUnreachable", "PeerUnreachable", "NoSource", "AllSourcesFailed"]

layer(NetLive, { excludeTestServices: true, timeout })(
  "a backup server follows a removal on a private Veilid testnet",
  (it) => {
    it.effect(
      "after A removes C, the server holds the new group instead of the old one and stores A's file written after, with no backup add",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const server = yield* startServer(testnet, yield* tempDir)
          const a = yield* startMember(testnet, "rot-a", yield* tempDir)
          const b = yield* startMember(testnet, "rot-b", yield* tempDir)
          const c = yield* startMember(testnet, "rot-c", yield* tempDir)
          const created = yield* a.backend.createGroup("Desk", { memberName: "A" })
          const key = created.key
          const before = yield* Option.getOrThrow(created.repo).write(
            "before.bin",
            Stream.make(pattern(120_000, 5)),
          )
          const invite = formatLink(yield* created.group.invite("write"))
          yield* eventually("B joins", b.backend.joinGroup(invite, { memberName: "B" }))
          const carol = yield* eventually(
            "C joins",
            c.backend.joinGroup(formatLink(yield* created.group.invite("write")), {
              memberName: "C",
            }),
          )

          yield* eventually(
            "A registers the group with the server",
            a.backend.addBackup(key, server.link),
            () => true,
            transient,
          )
          yield* eventually(
            "the server stores A's file",
            holdsBlobFile(server.dataDir, before.hash),
            (held) => held,
          )

          const { group: next } = yield* a.backend.removeMember(key, carol.group.slot as number)
          assert.notStrictEqual(next, key)
          yield* eventually(
            "the server holds the new group and not the old one",
            Effect.map(a.backend.listBackups(server.link), (groups) => groups.map((g) => g.key)),
            (keys) => keys.length === 1 && keys[0] === next,
            transient,
          )
          const after = yield* a.backend.writeFile(
            next,
            "after.bin",
            Stream.make(pattern(150_000, 6)),
          )
          yield* eventually(
            "the server stores the file A wrote after the removal",
            holdsBlobFile(server.dataDir, after.hash),
            (held) => held,
          )
          // The old group went with its blobs: the old file's hash is no longer on its disk.
          yield* eventually(
            "the server freed the old group's blobs",
            holdsBlobFile(server.dataDir, before.hash),
            (held) => !held,
          )
          // B follows too (no backup to carry: it registered none) and finds A's server
          // listed in the new group.
          yield* eventually(
            "B lists the server in the new group",
            Effect.map(b.backend.groupBackups(next), (found) => found.length),
            (n) => n === 1,
            ["UnknownGroup", ...transient],
          )
        }).pipe(Effect.scoped),
    )
  },
)
