// Backup servers follow a member's removal on memory layers: the member who registered the
// group registers the rotation's new group with the server by itself and has the old one
// dropped there; a server stopped meanwhile gets it when that member's backend starts again.
import { assert, describe, it } from "@effect/vitest"
import { formatLink, parseBackupDescriptor } from "@save-dweb/uri-scheme"
import type { RecordKey } from "@save-dweb/veilid"
import { Effect, Option, Stream } from "effect"
import {
  type MemoryNode,
  memoryNode,
  type Networks,
  networks,
  pattern,
  startMember,
  startServer,
  until,
} from "./support.ts"

/** Alice (manager) with a file, Bob and Carol (write members), each on a node of its own. */
const team = (nets: Networks) =>
  Effect.gen(function* () {
    const aNode = yield* memoryNode(nets)
    const a = yield* startMember(nets, aNode)
    const created = yield* a.value.backend.createGroup("Newsroom", { memberName: "Alice" })
    const key = created.key
    yield* a.value.backend.writeFile(key, "before.bin", Stream.make(pattern(40_000, 1)))
    const join = (memberName: string) =>
      Effect.gen(function* () {
        const member = yield* startMember(nets, yield* memoryNode(nets))
        const joined = yield* member.value.backend.joinGroup(
          yield* a.value.backend.invite(key, "write"),
          { memberName },
        )
        return { member, slot: joined.group.slot as number }
      })
    const b = yield* join("Bob")
    const c = yield* join("Carol")
    return { aNode, a, key, b, c }
  })

const heldKeys = (server: { readonly list: Effect.Effect<ReadonlyArray<{ key: string }>> }) =>
  Effect.map(server.list, (groups) => groups.map((g) => g.key))

/** The backup links kept in the stored entry of `key` on `node`. */
const keptLinks = (node: MemoryNode, key: RecordKey) =>
  Effect.map(node.known.get(key), (entry) =>
    Option.match(entry, { onNone: () => [], onSome: (e) => e.backups ?? [] }),
  )

describe("backup servers follow a removal", () => {
  it.live(
    "after Alice removes Carol, the server holds the new group instead of the old one and gets Alice's new file, with no backup add",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const serverNode = yield* memoryNode(nets)
        const server = yield* startServer(nets, serverNode, { name: "Archive box" })
        const descriptor = yield* parseBackupDescriptor(server.value.link)
        const { aNode, a, key, c } = yield* team(nets)
        yield* a.value.backups.addBackup(key, server.value.link)
        // Kept (with its access secret) in Alice's entry of the group.
        assert.deepStrictEqual(yield* keptLinks(aNode, key), [formatLink(descriptor)])
        assert.deepStrictEqual(yield* heldKeys(server.value), [key])

        const { group: next } = yield* a.value.backend.removeMember(key, c.slot)
        yield* until(
          "the server holds the new group only",
          Effect.map(heldKeys(server.value), (keys) => keys.length === 1 && keys[0] === next),
        )
        const after = yield* a.value.backend.writeFile(
          next,
          "after.bin",
          Stream.make(pattern(50_000, 2)),
        )
        yield* until("the server holds the file written after", serverNode.store.has(after.hash))
        // Listed in Alice's new repo record, so the others find it as a source.
        assert.deepStrictEqual(
          (yield* a.value.backend.groupBackups(next)).map((g) => [
            g.server,
            g.listedBy.map((l) => l.mine),
          ]),
          [[descriptor.record, [true]]],
        )
        // The link moved from the old entry to the new one.
        assert.deepStrictEqual(yield* keptLinks(aNode, key), [])
        assert.deepStrictEqual(yield* keptLinks(aNode, next), [formatLink(descriptor)])
        // Carol, still running, never gets the new group's key: nothing of it is hers to send.
        assert.deepStrictEqual(
          (yield* c.member.value.backend.listGroups).map((g) => g.key),
          [key],
        )
        assert.deepStrictEqual(yield* heldKeys(server.value), [next])
      }).pipe(Effect.scoped),
  )

  it.live(
    "a server stopped during the removal gets the new group when Alice's backend starts again",
    () =>
      Effect.gen(function* () {
        const nets = yield* networks
        const serverNode = yield* memoryNode(nets)
        const server = yield* startServer(nets, serverNode)
        const { aNode, a, key, c } = yield* team(nets)
        yield* a.value.backups.addBackup(key, server.value.link)
        const link = server.value.link
        yield* server.stop

        const { group: next } = yield* a.value.backend.removeMember(key, c.slot)
        // Not carried while the server is away: the old entry still keeps its link.
        assert.strictEqual((yield* keptLinks(aNode, key)).length, 1)
        yield* a.stop

        const again = yield* startServer(nets, serverNode)
        assert.strictEqual(again.value.link, link)
        yield* startMember(nets, aNode)
        yield* until(
          "the restarted server holds the new group only",
          Effect.map(heldKeys(again.value), (keys) => keys.length === 1 && keys[0] === next),
        )
        yield* until(
          "the old entry keeps no link",
          Effect.map(keptLinks(aNode, key), (links) => links.length === 0),
        )
      }).pipe(Effect.scoped),
  )
})
