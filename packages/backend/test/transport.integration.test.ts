// Private by default, on a private Veilid testnet with real Iroh stores: in a private
// group a member's file reaches another member with no Iroh address asked for or told
// (both nodes' logs) and no packet reaching the writer's Iroh endpoint (an nftables
// counter on its UDP ports, outside the process); in a direct group a replicate holder's
// sync learns no address and sends the writer's endpoint nothing, while a write member's
// read does reach it. Run inside `veilid-testnet exec` (it owns the network namespace the
// nftables table is made in); every wait has a deadline.
import { execFileSync } from "node:child_process"
import { assert, layer } from "@effect/vitest"
import { type Source, tunnelSource } from "@save-dweb/blob-store"
import { groupProtocols, LEARNED_ADDRESS, TOLD_ADDRESS } from "@save-dweb/data-repo"
import type { Testnet } from "@save-dweb/veilid-testnet"
import { Effect, Logger, Option, References, Stream } from "effect"
import type { CreateGroupOptions } from "../src/index.ts"
import { bytesOf, pattern } from "./support.ts"
import {
  eventually,
  groupOf,
  holdsBlobFile,
  Net,
  NetLive,
  repoOf,
  type Started,
  startFresh,
  timeout,
} from "./testnet.ts"

const transient = ["PeerUnreachable", "NoSource", "AllSourcesFailed", "NotLocal", "PeerBusy"]

/** The address messages data-repo logged on any node of this process, as they came. */
const addressLog = () => {
  const lines: Array<string> = []
  const capture = Logger.make(({ message }) => {
    const text = Array.isArray(message) ? message.join(" ") : String(message)
    if (text === TOLD_ADDRESS || text === LEARNED_ADDRESS) lines.push(text)
  })
  const observe = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(
      Effect.provide(Logger.layer([capture])),
      Effect.provideService(References.MinimumLogLevel, "Debug"),
    )
  return { lines, observe }
}

/**
 * Counts the UDP packets that reach `backend`'s Iroh endpoint (its bound ports), seen by
 * the kernel of this network namespace; the table is removed with the scope.
 */
const irohPackets = (backend: Started, name: string) =>
  Effect.gen(function* () {
    const status = yield* backend.backend.status
    const ports = [
      ...new Set((status.iroh?.addresses ?? []).map((a) => a.slice(a.lastIndexOf(":") + 1))),
    ]
    assert.isAbove(ports.length, 0, "the Iroh endpoint has bound ports")
    const table = `sdw_iroh_${name}_${process.pid}`
    const nft = (...args: Array<string>) => execFileSync("nft", args, { encoding: "utf8" })
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        nft("add", "table", "inet", table)
        nft(
          "add",
          "chain",
          "inet",
          table,
          "input",
          "{ type filter hook input priority 0; policy accept; }",
        )
        nft(
          "add",
          "rule",
          "inet",
          table,
          "input",
          "udp",
          "dport",
          `{ ${ports.join(", ")} }`,
          "counter",
        )
      }),
      () => Effect.sync(() => nft("delete", "table", "inet", table)),
    )
    return Effect.sync(() => {
      const listed = nft("list", "chain", "inet", table, "input")
      return Number(/packets (\d+)/.exec(listed)?.[1] ?? Number.NaN)
    })
  })

/** Alice makes a group with `options`, Bob joins it with a write link. */
const pair = (testnet: Testnet, prefix: string, options: CreateGroupOptions) =>
  Effect.gen(function* () {
    const [alice, bob] = yield* Effect.all(
      [startFresh(testnet, `${prefix}-a`), startFresh(testnet, `${prefix}-b`)],
      { concurrency: "unbounded" },
    )
    const created = yield* alice.backend.createGroup("Transport", { ...options, memberName: "A" })
    const link = yield* alice.backend.invite(created.key, "write")
    const joined = yield* eventually("b joins", bob.backend.joinGroup(link, { memberName: "B" }))
    const mine = Option.getOrThrow(created.repo)
    return { alice, bob, created, joined, mine }
  })

layer(NetLive, { excludeTestServices: true, timeout: 300_000 })(
  "a group's transport on a private Veilid testnet",
  (it) => {
    it.effect(
      "private (the default): a file reaches another member, no Iroh address told, no packet to the writer's endpoint",
      () => {
        const log = addressLog()
        return log.observe(
          Effect.gen(function* () {
            const testnet = yield* Net
            const { alice, created, joined, mine } = yield* pair(testnet, "priv", {})
            assert.strictEqual((yield* created.group.info).transport, "private")
            const packets = yield* irohPackets(alice, "priv")
            const bytes = pattern(2 * 1024 * 1024 + 3, 21)
            yield* mine.write("interview.bin", Stream.make(bytes))

            const theirs = yield* eventually("b opens a's repo", joined.openRepo(mine.key))
            const read = yield* eventually(
              "b reads a's file",
              bytesOf(theirs.read("interview.bin")),
              (r) => r.length === bytes.length,
              transient,
            )
            assert.isTrue(Buffer.from(read).equals(Buffer.from(bytes)))
            yield* eventually(
              "b syncs a's repo",
              joined.sync(),
              (r) => r.synced.has(mine.key) && !r.failed.has(mine.key),
              transient,
            )
            assert.deepStrictEqual(log.lines, [], "no Iroh address told or learned")
            assert.strictEqual(yield* packets, 0, "no packet reached alice's Iroh endpoint")
          }),
        )
      },
      timeout,
    )

    it.effect(
      "private: a large file is handed out while it still arrives, and reads back whole",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const { bob, joined, mine } = yield* pair(testnet, "str", {})
          const bytes = pattern(16 * 1024 * 1024 + 5, 23)
          const written = yield* mine.write("long.bin", Stream.make(bytes))
          const theirs = yield* eventually("b opens a's repo", joined.openRepo(mine.key))
          yield* eventually("b lists the file", theirs.list(), (files) => files.length === 1)
          // Alice's uplink at 40 Mbit/s: the 16 MiB take seconds to cross, not a blink.
          testnet.shape("str-a", { rateMbit: 40 })
          yield* Effect.addFinalizer(() => Effect.sync(() => testnet.shape("str-a", {})))
          let firstChunk: { readonly bytes: number; readonly blobHeld: boolean } | undefined
          const chunks: Array<Uint8Array> = []
          yield* eventually(
            "b reads a's file",
            theirs.read("long.bin").pipe(
              Stream.runForEach((chunk) =>
                Effect.gen(function* () {
                  if (firstChunk === undefined)
                    firstChunk = {
                      bytes: chunk.length,
                      blobHeld: yield* holdsBlobFile(bob, written.hash),
                    }
                  chunks.push(chunk)
                }),
              ),
              Effect.tapError(() =>
                Effect.sync(() => {
                  firstChunk = undefined
                  chunks.length = 0
                }),
              ),
            ),
            () => true,
            transient,
          )
          // The first plaintext came while the blob was not yet in Bob's store.
          assert.isDefined(firstChunk)
          assert.isAbove(firstChunk?.bytes ?? 0, 0)
          assert.isFalse(firstChunk?.blobHeld, "the first bytes came before the blob was whole")
          assert.isTrue(Buffer.concat(chunks).equals(Buffer.from(bytes)))
          assert.isTrue(yield* holdsBlobFile(bob, written.hash), "the whole blob is kept once read")
        }),
      timeout,
    )

    it.effect(
      "private: a large file held by three members comes from all three at once, over their private routes",
      () =>
        Effect.gen(function* () {
          const testnet = yield* Net
          const members = yield* groupOf(testnet, ["par-a", "par-b", "par-c", "par-d"])
          const [a, b, c, d] = members
          if (a === undefined || b === undefined || c === undefined || d === undefined) {
            return yield* Effect.die(new Error("members"))
          }
          assert.strictEqual((yield* a.group.group.info).transport, "private")
          const bytes = pattern(9 * 1024 * 1024 + 5, 24)
          const file = yield* repoOf(a).write("big.bin", Stream.make(bytes))
          for (const holder of [b, c]) {
            yield* eventually(
              `${holder.name} syncs a's repo`,
              Effect.andThen(holder.group.sync(), holdsBlobFile(holder.node, file.hash)),
              (held) => held,
              transient,
            )
          }
          // The reader calls each holder's published route with the group's tunnel key, as
          // a read with no sources given finds them (data-repo's discovery, policy `any`).
          const sources: Array<Source> = []
          for (const holder of [a, b, c]) {
            const [route] = yield* eventually(
              `${holder.name}'s route is published`,
              Effect.flatMap(d.group.openRepo(repoOf(holder).key), (repo) => repo.routes),
              (routes) => routes.length > 0,
            )
            if (route === undefined) return yield* Effect.die(new Error("no route"))
            const peer = yield* d.node.tunnels.connect(route, d.group.group.keys.tunnelAuth)
            sources.push(
              tunnelSource(peer, { id: holder.name, protocol: groupProtocols(d.group.key).blobs }),
            )
          }
          const result = yield* eventually(
            "d fetches the file from the three",
            d.node.store.fetch({
              hash: file.hash,
              kind: "blob",
              sources,
              expectedSize: file.storedSize,
              timeoutMillis: 60_000,
            }),
            () => true,
            transient,
          )
          const from = new Map(result.sources.map((s) => [s.source, s.bytes]))
          for (const holder of [a, b, c]) {
            assert.isAbove(from.get(holder.name) ?? 0, 0, JSON.stringify(result.sources))
          }
          assert.isTrue(yield* holdsBlobFile(d.node, file.hash))
          const theirs = yield* d.group.openRepo(repoOf(a).key)
          const read = yield* bytesOf(theirs.read("big.bin"))
          assert.isTrue(Buffer.from(read).equals(Buffer.from(bytes)))
        }),
      timeout,
    )

    it.effect(
      "direct: a replicate holder learns no address and reaches no endpoint; a write member does",
      () => {
        const log = addressLog()
        return log.observe(
          Effect.gen(function* () {
            const testnet = yield* Net
            const { alice, created, joined, mine } = yield* pair(testnet, "dir", {
              transport: "direct",
            })
            const server = yield* startFresh(testnet, "dir-r")
            const replica = yield* eventually(
              "the replicate holder joins",
              server.backend.joinGroup(yield* alice.backend.invite(created.key, "replicate")),
            )
            const packets = yield* irohPackets(alice, "dir")
            const bytes = pattern(1024 * 1024 + 7, 22)
            yield* mine.write("notes.bin", Stream.make(bytes))

            // The replicate holder syncs it, over the tunnel only.
            yield* eventually(
              "the replicate holder syncs a's repo",
              replica.sync(),
              (r) => r.synced.has(mine.key) && !r.failed.has(mine.key),
              transient,
            )
            assert.deepStrictEqual(
              log.lines,
              [],
              "no address told to or learned by the replicate tier",
            )
            assert.strictEqual(yield* packets, 0, "the replicate holder reached no Iroh endpoint")

            // A write member asks, is told, and fetches from alice's endpoint.
            const theirs = yield* eventually("b opens a's repo", joined.openRepo(mine.key))
            const read = yield* eventually(
              "b reads a's file",
              bytesOf(theirs.read("notes.bin")),
              (r) => r.length === bytes.length,
              transient,
            )
            assert.isTrue(Buffer.from(read).equals(Buffer.from(bytes)))
            assert.include(log.lines, TOLD_ADDRESS)
            assert.include(log.lines, LEARNED_ADDRESS)
            assert.isAbove(yield* packets, 0, "b reached alice's Iroh endpoint")
          }),
        )
      },
      timeout,
    )
  },
)
