// The roadmap's remaining backend behaviours on a private Veilid testnet with real Iroh
// stores and real tunnels: ping over a member's route, delete + purge on disk, a file
// served by another member while its writer is offline (policy `any`) and refused under
// `owner-only`, and the write limits of read links and revoked members. Run inside
// `veilid-testnet exec`; every wait has a deadline, nothing sleeps.
import { assert, layer } from "@effect/vitest"
import { formatLink } from "@save-dweb/uri-scheme"
import type { RecordKey } from "@save-dweb/veilid"
import { Duration, Effect, Option, Stream } from "effect"
import { bytesOf, failureOf, pattern } from "./support.ts"
import {
  deadline,
  eventually,
  groupOf,
  holdsBlobFile,
  type Member,
  Net,
  NetLive,
  repoNames,
  repoOf,
  slotOf,
  startFresh,
  timeout,
  transient,
} from "./testnet.ts"

/** Waits until `m` sees no route in `writer`'s repo record (it stopped and cleared it). */
const seenOffline = (m: Member, writer: RecordKey) =>
  Effect.gen(function* () {
    const theirs = yield* eventually(`${m.name} opens the writer's repo`, m.group.openRepo(writer))
    yield* eventually(`${m.name} sees the writer offline`, theirs.routes, (r) => r.length === 0)
    return theirs
  })

layer(NetLive, { excludeTestServices: true, timeout: 300_000 })(
  "the roadmap's backend behaviours on a private Veilid testnet",
  (it) => {
    it.effect(
      "a member pings another over the route in its repo record, and not once it stopped",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const [a, b] = yield* groupOf(testnet, ["ping-a", "ping-b"])
          if (a === undefined || b === undefined) return yield* Effect.die(new Error("members"))
          const retry = ["PeerUnreachable", "MemberUnreachable", "UnverifiedPeer"]
          const there = yield* eventually(
            "b pings a",
            b.node.backend.ping(b.group.key, slotOf(a)),
            () => true,
            retry,
          )
          const back = yield* eventually(
            "a pings b",
            a.node.backend.ping(a.group.key, slotOf(b)),
            () => true,
            retry,
          )
          for (const latency of [there, back]) {
            assert.isTrue(Duration.isGreaterThan(latency, Duration.zero))
            assert.isTrue(Duration.isLessThan(latency, deadline))
          }
          // An empty slot has nobody to answer.
          const empty = yield* failureOf(b.node.backend.ping(b.group.key, 200))
          assert.strictEqual(empty._tag, "MemberUnreachable")

          yield* a.node.stop
          yield* seenOffline(b, repoOf(a).key)
          const gone = yield* failureOf(b.node.backend.ping(b.group.key, slotOf(a)))
          assert.strictEqual(gone._tag, "MemberUnreachable")
        }),
      timeout,
    )

    it.effect(
      "a deleted file's bytes are gone from another member's store directory after it syncs",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const [a, b] = yield* groupOf(testnet, ["purge-a", "purge-b"])
          if (a === undefined || b === undefined) return yield* Effect.die(new Error("members"))
          const mine = repoOf(a)
          // Over 16 KiB, so Iroh keeps it in a file of its own rather than inline in its db.
          const written = yield* mine.write("scan.bin", Stream.make(pattern(200_000)))
          assert.isFalse(yield* holdsBlobFile(b.node, written.hash))

          yield* eventually(
            "b syncs a's file",
            b.group.sync(),
            (r) => r.synced.has(mine.key) && !r.failed.has(mine.key),
          )
          assert.isTrue(yield* holdsBlobFile(b.node, written.hash))

          yield* mine.delete("scan.bin")
          yield* eventually("b frees the deleted file", b.group.sync(), (r) =>
            r.freed.includes(written.hash),
          )
          assert.isFalse(yield* holdsBlobFile(b.node, written.hash))
          assert.deepStrictEqual(yield* (yield* b.group.openRepo(mine.key)).list(), [])
        }),
      timeout,
    )

    it.effect(
      "with its writer offline, a file reaches a third member from the second (policy any)",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const [a, b, c] = yield* groupOf(testnet, ["any-a", "any-b", "any-c"], {
            sourcePolicy: "any",
          })
          if (a === undefined || b === undefined || c === undefined) {
            return yield* Effect.die(new Error("members"))
          }
          const bytes = pattern(300_000, 11)
          const mine = repoOf(a)
          yield* mine.write("trip.bin", Stream.make(bytes))
          yield* eventually(
            "b syncs a's file",
            b.group.sync(),
            (r) => r.synced.has(mine.key) && !r.failed.has(mine.key),
          )

          yield* a.node.stop
          const theirs = yield* seenOffline(c, mine.key)
          const read = yield* eventually(
            "c reads a's file from b",
            bytesOf(theirs.read("trip.bin")),
            (r) => r.length === bytes.length,
            transient,
          )
          assert.isTrue(Buffer.from(read).equals(Buffer.from(bytes)))
        }),
      timeout,
    )

    it.effect(
      "under owner-only, with the owner offline, another member's copy is refused with a typed error",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const [a, b, c] = yield* groupOf(testnet, ["own-a", "own-b", "own-c"], {
            sourcePolicy: "owner-only",
          })
          if (a === undefined || b === undefined || c === undefined) {
            return yield* Effect.die(new Error("members"))
          }
          assert.strictEqual((yield* c.group.group.info).sourcePolicy, "owner-only")
          const mine = repoOf(a)
          yield* mine.write("trip.bin", Stream.make(pattern(300_000, 13)))
          yield* eventually(
            "b syncs a's file",
            b.group.sync(),
            (r) => r.synced.has(mine.key) && !r.failed.has(mine.key),
          )

          yield* a.node.stop
          const theirs = yield* seenOffline(c, mine.key)
          // B holds the file and publishes its route, but only the owner may serve it.
          const refused = yield* failureOf(bytesOf(theirs.read("trip.bin")))
          assert.strictEqual(refused._tag, "NotLocal")
          const synced = yield* c.group.sync()
          // A sync with no source to ask fails the repo (the fetch is given none: NoSource).
          assert.oneOf(synced.failed.get(mine.key)?._tag, ["NoSource", "NotLocal"])
          assert.isFalse(synced.synced.has(mine.key))
        }),
      timeout,
    )

    it.effect(
      "joining with a read link cannot write, and a revoked member's writes are refused or ignored",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const [a, b] = yield* groupOf(testnet, ["limit-a", "limit-b"])
          if (a === undefined || b === undefined) return yield* Effect.die(new Error("members"))
          const reader = yield* startFresh(testnet, "limit-r")
          const link = formatLink(yield* a.group.group.invite("read"))
          const r = yield* eventually("the reader joins", reader.backend.joinGroup(link))
          assert.strictEqual(r.group.tier, "read")
          assert.isTrue(Option.isNone(r.repo))
          const named = yield* failureOf(r.group.setMyName("Reader"))
          assert.strictEqual(named._tag, "InsufficientCapability")
          const theirs = yield* eventually("the reader opens a's repo", r.openRepo(repoOf(a).key))
          const wrote = yield* failureOf(theirs.write("x.txt", Stream.make(pattern(10))))
          assert.strictEqual(wrote._tag, "NotWritable")

          // Revoked: its own writes fail once it sees the roster, and readers drop its slot.
          const revoked = slotOf(b)
          const bRepo = repoOf(b).key
          yield* a.group.group.revoke(revoked)
          yield* eventually(
            "b's write to the group is refused",
            Effect.result(b.group.group.setMyName("Still here")),
            (res) => res._tag === "Failure" && res.failure._tag === "SlotRevoked",
          )
          // Its repo record is its own, so a write may land there: nobody reads it any more.
          yield* Effect.ignore(repoOf(b).write("late.txt", Stream.make(pattern(100))))
          for (const m of [a.group, r]) {
            yield* eventually(
              "the revoked repo is dropped",
              m.repos,
              (repos) => repoNames(repos) === "M0" && repos.every((p) => p.key !== bRepo),
            )
          }
          const members = yield* r.group.members
          assert.isFalse(members.some((m) => m.slot === revoked))
          const synced = yield* a.group.sync()
          assert.isFalse(synced.synced.has(bRepo))
        }),
      timeout,
    )
  },
)
