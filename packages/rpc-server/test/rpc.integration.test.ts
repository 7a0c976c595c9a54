// Two real backends on a private Veilid testnet, each behind its RPC server; everything
// goes through the typed client (and raw HTTP for status). Waits have deadlines.
import { assert, layer } from "@effect/vitest"
import type { ServerEvent } from "@save-dweb/client"
import { Effect, Fiber, Stream } from "effect"
import { bytesOf, pattern, raw } from "./support.ts"
import { daemon, eventually, Net, NetLive, timeout } from "./testnet.ts"

layer(NetLive, { excludeTestServices: true, timeout: 300_000 })(
  "the API over real backends on a private Veilid testnet",
  (it) => {
    it.effect(
      "create, invite, join, upload, download identical bytes, events seen, status of the node",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const [a, b] = yield* Effect.all(
            [daemon(testnet, "alice"), daemon(testnet, "bob", { autoSync: true })],
            { concurrency: 2 },
          )
          const status = yield* a.client.status
          assert.isNotNull(status.veilid)
          assert.match(status.veilid?.state ?? "", /^Attached/)
          assert.isTrue(status.veilid?.publicInternetReady)
          assert.isNotNull(status.iroh)
          assert.match(status.iroh?.nodeId ?? "", /^[0-9a-f]{64}$/)

          const seenByA: Array<ServerEvent> = []
          const aEvents = yield* (yield* a.client.subscribe).pipe(
            Stream.tap((e) => Effect.sync(() => void seenByA.push(e))),
            Stream.takeUntil(() => seenByA.some((e) => e._tag === "MembersChanged")),
            Stream.runDrain,
            Effect.forkScoped,
          )
          const g = yield* a.client.groups.create({ name: "Field notes", memberName: "Alice" })
          const bytes = pattern(3_000_000)
          const up = yield* a.client.files.upload(
            g.key,
            "field.bin",
            Stream.fromIterable(
              Array.from({ length: 30 }, (_, i) => bytes.subarray(i * 100_000, (i + 1) * 100_000)),
            ),
          )
          assert.strictEqual(up.size, bytes.length)

          const seenByB: Array<ServerEvent> = []
          const bEvents = yield* (yield* b.client.subscribe).pipe(
            Stream.tap((e) => Effect.sync(() => void seenByB.push(e))),
            Stream.takeUntil(() =>
              seenByB.some((e) => e._tag === "SyncDone" && e.repo === g.repo && !e.unchanged),
            ),
            Stream.runDrain,
            Effect.forkScoped,
          )
          const link = yield* a.client.groups.invite(g.key, "write")
          const joined = yield* eventually(
            "bob joins",
            b.client.groups.join({ link, memberName: "Bob" }),
            () => true,
            ["PeerUnreachable", "Timeout", "Unavailable"],
          )
          assert.strictEqual(joined.name, "Field notes")
          assert.strictEqual(joined.tier, "write")

          // Bob's background sync brings Alice's file here without a sync call.
          yield* Fiber.join(bEvents).pipe(Effect.timeout("90 seconds"))
          assert.isTrue(seenByB.some((e) => e._tag === "SyncProgress"))
          const listed = yield* b.client.files.list(g.key, g.repo as string)
          assert.deepStrictEqual(
            listed.map((f) => [f.name, f.size, f.status]),
            [["field.bin", bytes.length, "local"]],
          )
          const down = yield* b.client.files.download(g.key, g.repo as string, "field.bin")
          assert.strictEqual(down.size, bytes.length)
          const read = yield* bytesOf(down.bytes)
          assert.isTrue(Buffer.from(read).equals(Buffer.from(bytes)))
          const part = yield* b.client.files.download(g.key, g.repo as string, "field.bin", {
            range: { start: 2_500_000, end: 2_500_999 },
          })
          assert.isTrue(
            Buffer.from(yield* bytesOf(part.bytes)).equals(
              Buffer.from(bytes.subarray(2_500_000, 2_501_000)),
            ),
          )

          // Alice sees Bob join (a DHT watch) and both list both members.
          yield* Fiber.join(aEvents).pipe(Effect.timeout("90 seconds"))
          const joinedEvent = seenByA.find((e) => e._tag === "MembersChanged")
          assert.deepStrictEqual(
            joinedEvent?._tag === "MembersChanged" ? joinedEvent.changes : [],
            [{ kind: "Joined", slot: 1, name: "Bob" }],
          )
          assert.isTrue(seenByA.some((e) => e._tag === "FilesChanged" && e.mine))
          const names = (members: ReadonlyArray<{ readonly name: string | null }>) =>
            members.map((m) => m.name).join(",")
          yield* eventually(
            "alice lists both members",
            a.client.groups.members(g.key),
            (m) => names(m) === "Alice,Bob",
          )

          // Bob writes; Alice reads it over the testnet.
          const reply = pattern(500_000, 9)
          yield* b.client.files.upload(g.key, "reply.bin", Stream.make(reply))
          const fromBob = yield* eventually(
            "alice reads bob's file",
            Effect.flatMap(
              a.client.files.download(g.key, joined.repo as string, "reply.bin"),
              (d) => bytesOf(d.bytes),
            ),
            (r) => r.length === reply.length,
            ["FileNotFound", "PeerUnreachable", "Timeout"],
          )
          assert.isTrue(Buffer.from(fromBob).equals(Buffer.from(reply)))

          // Auth on the real server too.
          const refused = yield* raw(`${a.served.url}/v1/status`)
          assert.strictEqual(refused.status, 401)
          yield* b.stop
          yield* a.stop
        }).pipe(Effect.scoped),
      timeout,
    )
  },
)
