// Small blobs in one tunnel call (`GetMany`): what a provider answers, and a fetch's use of
// it against honest, lacking, lying and older providers.
import { assert, type Vitest } from "@effect/vitest"
import type { Handler } from "@save-dweb/tunnels"
import { Effect, Result, Stream } from "effect"
import type { BlobStoreService } from "../blob-store.ts"
import { type BlobHash, blake3 } from "../hash.ts"
import type { FetchEvent, FetchRequest, Source } from "../source.ts"
import {
  BLOBS_PROTOCOL,
  decodeRequest,
  decodeResponse,
  encodeResponse,
  HEADER_PREFIX_BYTES,
  MAX_BATCH_BLOB_BYTES,
  MAX_BATCH_BYTES,
  MAX_BATCH_HASHES,
} from "../tunnel-protocol.ts"
import { blobsHandler } from "../tunnel-provider.ts"
import { bytesOf, equalBytes, readAll } from "./support.ts"
import { rawAnswers, recorded, served, TunnelWorld } from "./tunnel-world.ts"

/** A collection fetch with one request in flight per source, so the calls come in order. */
const oneAtATime = (root: BlobHash, sources: ReadonlyArray<Source>): FetchRequest => ({
  hash: root,
  kind: "collection",
  sources,
  concurrencyPerSource: 1,
})

/** A collection of `members` in `store` (and `more`), with its entries. */
const collectionOf = (
  members: ReadonlyArray<Uint8Array>,
  store: BlobStoreService,
  ...more: ReadonlyArray<BlobStoreService>
) =>
  Effect.gen(function* () {
    const entries: Array<{ name: string; hash: BlobHash }> = []
    for (const [i, m] of members.entries()) {
      entries.push({ name: `f${i}`, hash: yield* store.addBytes(m) })
      for (const other of more) yield* other.addBytes(m)
    }
    const root = yield* store.createCollection(entries)
    for (const other of more) yield* other.createCollection(entries)
    return { root, entries }
  })

const holdsAll = (
  store: BlobStoreService,
  entries: ReadonlyArray<{ readonly hash: BlobHash }>,
  members: ReadonlyArray<Uint8Array>,
) =>
  Effect.gen(function* () {
    for (const [i, m] of members.entries())
      assert.isTrue(equalBytes(yield* readAll(store, entries[i]?.hash as BlobHash), m), `f${i}`)
  })

/** A provider from before `GetMany`: it answers it as any request it cannot decode. */
const olderProvider =
  (store: BlobStoreService): Handler<unknown> =>
  (call) =>
    Stream.unwrap(
      Effect.gen(function* () {
        const bytes = yield* Stream.mkUint8Array(call.input)
        const request = decodeRequest(bytes)
        if (Result.isSuccess(request) && request.success._tag === "GetMany")
          return Stream.succeed(
            encodeResponse({ _tag: "BadRequest", reason: 'Expected "Get" | "Has"' }),
          )
        return blobsHandler(store)({ ...call, input: Stream.succeed(bytes) })
      }),
    )

export const tunnelBatchTests = (it: Vitest.MethodsNonLive<TunnelWorld>, timeout: number) => {
  it.effect(
    "GetMany answers each hash in order: Found with the bytes, NotFound (absent or refused), TooLarge past 1 MiB a blob or 8 MiB a call; too many hashes are a BadRequest",
    () =>
      Effect.gen(function* () {
        const w = yield* TunnelWorld
        const client = yield* w.node
        const small = bytesOf(10_000)
        const s0 = yield* w.a.addBytes(small)
        const s1 = yield* w.a.addBytes(new Uint8Array())
        const bigBytes = bytesOf(MAX_BATCH_BLOB_BYTES + 1)
        const big = yield* w.a.addBytes(bigBytes)
        const refused = yield* w.a.addBytes(bytesOf(5_000))
        const unknown = yield* Effect.promise(() => blake3(bytesOf(64)))
        const viaA = yield* served(w, client, w.a, "tunnel-a", {
          allow: (hash) => Effect.succeed(hash !== refused),
        })

        const answers = yield* rawAnswers(viaA, {
          _tag: "GetMany",
          hashes: [s0, big, refused, unknown, s1],
        })
        assert.deepStrictEqual(
          answers.map((a) => a.header),
          [
            { _tag: "Found", size: 10_000, offset: 0, length: 10_000 },
            { _tag: "TooLarge", hash: big, size: bigBytes.length },
            { _tag: "NotFound", hash: refused },
            { _tag: "NotFound", hash: unknown },
            { _tag: "Found", size: 0, offset: 0, length: 0 },
          ],
        )
        assert.isTrue(equalBytes(answers[0]?.body ?? new Uint8Array(), small))

        // Blobs of 1 MiB each: past 8 MiB in one call, any blob is TooLarge.
        const mibs: Array<BlobHash> = []
        for (let i = 0; i < 9; i++) mibs.push(yield* w.a.addBytes(bytesOf(MAX_BATCH_BLOB_BYTES)))
        const budget = yield* rawAnswers(viaA, { _tag: "GetMany", hashes: [s0, ...mibs] })
        const fit = Math.floor((MAX_BATCH_BYTES - 10_000) / MAX_BATCH_BLOB_BYTES)
        assert.deepStrictEqual(
          budget.map((a) => a.header._tag),
          ["Found", ...Array(fit).fill("Found"), ...Array(9 - fit).fill("TooLarge")],
        )
        const tail = yield* rawAnswers(viaA, { _tag: "GetMany", hashes: [...mibs.slice(0, 8), s0] })
        assert.deepStrictEqual(
          tail.map((a) => a.header._tag),
          [...Array(8).fill("Found"), "TooLarge"],
        )

        for (const hashes of [[], Array(MAX_BATCH_HASHES + 1).fill(s0)]) {
          const request = new TextEncoder().encode(JSON.stringify({ _tag: "GetMany", hashes }))
          const reply = yield* Stream.mkUint8Array(
            viaA.peer.open(BLOBS_PROTOCOL, Stream.succeed(request)),
          )
          const header = decodeResponse(reply.subarray(HEADER_PREFIX_BYTES))
          assert.strictEqual(Result.getOrThrow(header)._tag, "BadRequest", `${hashes.length}`)
        }
      }),
    timeout,
  )

  it.effect(
    "a collection's small members come from a tunnel source in one GetMany, each verified; a member over 1 MiB comes alone",
    () =>
      Effect.gen(function* () {
        const w = yield* TunnelWorld
        const client = yield* w.node
        const members = Array.from({ length: 40 }, (_, i) => bytesOf(i * 1_500))
        members.splice(20, 0, bytesOf(MAX_BATCH_BLOB_BYTES + 1))
        const { root, entries } = yield* collectionOf(members, w.a)
        const via = recorded(yield* served(w, client, w.a, "tunnel-a"))
        const result = yield* w.c.fetch(oneAtATime(root, [via.source]))
        // The hash sequence, the names, every member in one call, then the large one alone.
        assert.deepStrictEqual(via.tags(), ["Get", "Get", "GetMany", "Get"])
        const batch = via.requests[2]
        assert.deepStrictEqual(
          batch?._tag === "GetMany" ? [...batch.hashes].sort() : [],
          entries.map((e) => e.hash).sort(),
        )
        const last = via.requests[3]
        assert.strictEqual(last?._tag === "Get" ? last.hash : undefined, entries[20]?.hash)
        assert.strictEqual(result.blobs, members.length + 2)
        yield* holdsAll(w.c, entries, members)
        yield* w.c.delete(root)
      }),
    timeout,
  )

  it.effect(
    "a member a provider lacks in the middle of a batch drops it with NotFoundAtSource once the rest of the batch landed",
    () =>
      Effect.gen(function* () {
        const w = yield* TunnelWorld
        const client = yield* w.node
        const members = Array.from({ length: 12 }, (_, i) => bytesOf(1_000 + i))
        const { root, entries } = yield* collectionOf(members, w.a, w.b)
        const lacking = entries[5]?.hash as BlobHash
        const viaA = recorded(
          yield* served(w, client, w.a, "tunnel-a", {
            allow: (hash) => Effect.succeed(hash !== lacking),
          }),
        )
        const events: Array<FetchEvent> = []
        const error = yield* Effect.flip(
          w.c
            .fetchWithProgress(oneAtATime(root, [viaA.source]))
            .pipe(Stream.runForEach((e) => Effect.sync(() => events.push(e)))),
        )
        assert.strictEqual(error._tag, "AllSourcesFailed")
        if (error._tag === "AllSourcesFailed") {
          assert.strictEqual(error.failures.length, 1)
          const failure = error.failures[0]
          assert.strictEqual(failure?._tag, "NotFoundAtSource")
          if (failure?._tag === "NotFoundAtSource") assert.strictEqual(failure.hash, lacking)
        }
        assert.deepStrictEqual(viaA.tags(), ["Get", "Get", "GetMany"])
        const progress = events.filter((e) => e._tag === "Progress")
        // Root, names and the eleven members after and before the missing one.
        assert.strictEqual(progress.at(-1)?.blobsDone, 2 + members.length - 1)

        const viaB = yield* served(w, client, w.b, "tunnel-b")
        const result = yield* w.c.fetch(oneAtATime(root, [viaA.source, viaB]))
        assert.strictEqual(result.blobs, members.length + 2)
        yield* holdsAll(w.c, entries, members)
        yield* w.c.delete(root)
      }),
    timeout,
  )

  it.effect(
    "a provider lying about one blob of a batch is dropped with HashMismatch; the other members come from another source",
    () =>
      Effect.gen(function* () {
        const w = yield* TunnelWorld
        const client = yield* w.node
        const members = Array.from({ length: 12 }, (_, i) => bytesOf(2_000 + i))
        const { root, entries } = yield* collectionOf(members, w.a, w.b)
        // Every other member is served with the bytes of another blob of its size: any
        // two members in a row hold a lie.
        const decoys = new Map<BlobHash, BlobHash>()
        for (const [i, m] of members.entries())
          if (i % 2 === 1)
            decoys.set(entries[i]?.hash as BlobHash, yield* w.b.addBytes(bytesOf(m.length)))
        const lying: BlobStoreService = {
          ...w.b,
          read: (hash, range) => w.b.read(decoys.get(hash) ?? hash, range),
        }
        const liar = recorded(yield* served(w, client, lying, "liar"))
        const honest = yield* served(w, client, w.a, "honest")
        const result = yield* w.c.fetch(oneAtATime(root, [liar.source, honest]))
        const dropped = result.sources.find((s) => s.source === "liar")
        assert.strictEqual(dropped?.failure?._tag, "HashMismatch", JSON.stringify(result.sources))
        assert.strictEqual(liar.tags().filter((t) => t === "GetMany").length, 1)
        assert.strictEqual(result.blobs, members.length + 2)
        yield* holdsAll(w.c, entries, members)
        yield* w.c.delete(root)
      }),
    timeout,
  )

  it.effect(
    "a provider that predates GetMany answers it BadRequest and gets one Get per blob, without being dropped",
    () =>
      Effect.gen(function* () {
        const w = yield* TunnelWorld
        const client = yield* w.node
        const members = Array.from({ length: 10 }, (_, i) => bytesOf(3_000 + i))
        const { root, entries } = yield* collectionOf(members, w.a)
        const older = recorded(
          yield* served(w, client, w.a, "older", { handler: olderProvider(w.a) }),
        )
        const result = yield* w.c.fetch(oneAtATime(root, [older.source]))
        assert.deepStrictEqual(older.tags(), [
          "Get",
          "Get",
          "GetMany",
          ...Array(members.length).fill("Get"),
        ])
        assert.isUndefined(result.sources[0]?.failure)
        assert.strictEqual(result.sources[0]?.blobs, members.length + 2)
        yield* holdsAll(w.c, entries, members)
        yield* w.c.delete(root)
      }),
    timeout,
  )
}
