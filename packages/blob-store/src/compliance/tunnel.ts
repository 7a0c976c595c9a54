// The tunnel transport's part of the compliance suite: every BlobStore layer serves and
// fetches over `Tunnels.layerMemory` (the in-process network, same engine and frame
// limits as the Veilid layer). `blobStoreCompliance` runs it with stores of its own.
import { assert, layer } from "@effect/vitest"
import { SecretKey } from "@save-dweb/crypto"
import { Effect, Result, Stream } from "effect"
import type { BlobStoreService } from "../blob-store.ts"
import { MAX_BLOB_BYTES } from "../errors.ts"
import { type BlobHash, blake3 } from "../hash.ts"
import type { Source } from "../source.ts"
import { BLOBS_PROTOCOL, decodeResponse, HEADER_PREFIX_BYTES } from "../tunnel-protocol.ts"
import { askHas, openTunnelBlob, whoHas } from "../tunnel-source.ts"
import { bytesOf, type ComplianceOptions, equalBytes, readAll } from "./support.ts"
import { tunnelBatchTests } from "./tunnel-batch.ts"
import { rawCall, served, TunnelWorld, tunnelWorld } from "./tunnel-world.ts"

export const tunnelTransportCompliance = (name: string, options: ComplianceOptions) => {
  const timeout = options.timeout ?? 60_000
  const world = tunnelWorld(options)

  layer(world, { timeout: "180 seconds", excludeTestServices: true })(name, (it) => {
    it.effect(
      "a blob and a collection come through tunnel sources alone, verified, spread over both",
      () =>
        Effect.gen(function* () {
          const w = yield* TunnelWorld
          const { a, b, c } = w
          const client = yield* w.node
          const blob = bytesOf(300_000)
          const hash = yield* a.addBytes(blob)
          const members = [0, 1, 1000, 40_000, 70_000, 100_001, 200_000, 5].map((size, i) => ({
            name: `m${i}`,
            bytes: bytesOf(size),
          }))
          const entries = []
          for (const m of members) {
            entries.push({ name: m.name, hash: yield* a.addBytes(m.bytes) })
            yield* b.addBytes(m.bytes)
          }
          const root = yield* a.createCollection(entries)
          assert.strictEqual(yield* b.createCollection(entries), root)
          const viaA = yield* served(w, client, a, "tunnel-a")
          const viaB = yield* served(w, client, b, "tunnel-b")

          const one = yield* c.fetch({ hash, kind: "blob", sources: [viaA] })
          assert.strictEqual(one.bytes, blob.length)
          assert.isTrue(equalBytes(yield* readAll(c, hash), blob))

          const all = yield* c.fetch({
            hash: root,
            kind: "collection",
            sources: [viaA, viaB],
            concurrencyPerSource: 2,
          })
          assert.strictEqual(all.blobs, members.length + 2)
          assert.strictEqual(
            all.sources.filter((s) => s.blobs > 0).length,
            2,
            JSON.stringify(all.sources),
          )
          const read = yield* c.readCollection(root)
          for (const m of members) {
            const entry = read.find((e) => e.name === m.name)
            assert.isTrue(entry !== undefined && equalBytes(yield* readAll(c, entry.hash), m.bytes))
          }
          assert.isTrue((yield* c.list()).some((r) => r.hash === root && r.kind === "collection"))
          yield* c.delete(root)
          yield* c.delete(hash)
        }),
      timeout,
    )

    it.effect(
      "a lying tunnel provider is dropped with HashMismatch and the fetch completes from another",
      () =>
        Effect.gen(function* () {
          const w = yield* TunnelWorld
          const { a, b, c } = w
          const client = yield* w.node
          const bytes = bytesOf(150_000)
          const other = yield* b.addBytes(bytesOf(bytes.length))
          const hash = yield* a.addBytes(bytes)
          // Answers every request with the bytes of another blob of the same size.
          const lying: BlobStoreService = {
            ...b,
            size: () => b.size(other),
            read: (_hash, range) => b.read(other, range),
          }
          const liar = yield* served(w, client, lying, "liar")
          const honest = yield* served(w, client, a, "honest")

          const alone = yield* Effect.flip(c.fetch({ hash, kind: "blob", sources: [liar] }))
          assert.strictEqual(alone._tag, "AllSourcesFailed")
          if (alone._tag === "AllSourcesFailed")
            assert.strictEqual(alone.failures[0]?._tag, "HashMismatch")
          assert.isFalse(yield* c.has(hash))

          const result = yield* c.fetch({
            hash,
            kind: "blob",
            sources: [liar, honest],
            concurrencyPerSource: 1,
          })
          const dropped = result.sources.find((s) => s.source === "liar")
          assert.strictEqual(dropped?.failure?._tag, "HashMismatch")
          assert.strictEqual(result.sources.find((s) => s.source === "honest")?.blobs, 1)
          assert.isTrue(equalBytes(yield* readAll(c, hash), bytes))
          yield* c.delete(hash)
        }),
      timeout,
    )

    it.effect(
      "a tunnel source announcing another size than expected, or an absurd one, is dropped with UnexpectedSize before any byte is written",
      () =>
        Effect.gen(function* () {
          const w = yield* TunnelWorld
          const { a, b, c } = w
          const client = yield* w.node
          const bytes = bytesOf(120_000)
          const hash = yield* a.addBytes(bytes)
          yield* b.addBytes(bytes)
          // Announces `announced` bytes in its header, then sends the real ones.
          const lyingAbout = (announced: number): BlobStoreService => ({
            ...b,
            size: () => Effect.succeed(announced),
            read: (h) => b.read(h),
          })
          const bigger = yield* served(w, client, lyingAbout(bytes.length + 1), "bigger")
          const absurd = yield* served(w, client, lyingAbout(MAX_BLOB_BYTES + 1), "absurd")
          const honest = yield* served(w, client, a, "honest")

          // The stream itself passes on no byte once the header is wrong.
          for (const [source, expected] of [
            [bigger, bytes.length],
            [absurd, undefined],
          ] as const) {
            const seen: Array<Uint8Array> = []
            const sizes: Array<number> = []
            const error = yield* Effect.flip(
              openTunnelBlob(source, hash, (n) => sizes.push(n), expected).pipe(
                Stream.runForEach((chunk) => Effect.sync(() => seen.push(chunk))),
              ),
            )
            assert.strictEqual(error._tag, "UnexpectedSize")
            assert.deepStrictEqual([seen.length, sizes.length], [0, 0])
          }

          for (const [source, expectedSize] of [
            [bigger, bytes.length],
            [absurd, undefined],
          ] as const) {
            const alone = yield* Effect.flip(
              c.fetch({
                hash,
                kind: "blob",
                sources: [source],
                ...(expectedSize === undefined ? {} : { expectedSize }),
              }),
            )
            assert.strictEqual(alone._tag, "AllSourcesFailed")
            if (alone._tag === "AllSourcesFailed") {
              const failure = alone.failures[0]
              assert.strictEqual(failure?._tag, "UnexpectedSize")
              if (failure?._tag === "UnexpectedSize")
                assert.deepStrictEqual(
                  [failure.announced, failure.expected],
                  [
                    expectedSize === undefined ? MAX_BLOB_BYTES + 1 : bytes.length + 1,
                    expectedSize,
                  ],
                )
            }
            assert.isFalse(yield* c.has(hash))
          }

          // An honest source announcing a size the caller does not expect is refused too.
          const wrong = yield* Effect.flip(
            c.fetch({ hash, kind: "blob", sources: [honest], expectedSize: bytes.length - 1 }),
          )
          assert.strictEqual(wrong._tag, "AllSourcesFailed")
          if (wrong._tag === "AllSourcesFailed")
            assert.strictEqual(wrong.failures[0]?._tag, "UnexpectedSize")

          const result = yield* c.fetch({
            hash,
            kind: "blob",
            sources: [bigger, absurd, honest],
            expectedSize: bytes.length,
            concurrencyPerSource: 1,
          })
          assert.strictEqual(result.sources.find((s) => s.source === "honest")?.blobs, 1)
          for (const liar of ["bigger", "absurd"]) {
            const failure = result.sources.find((s) => s.source === liar)?.failure
            assert.isTrue(failure === undefined || failure._tag === "UnexpectedSize", liar)
          }
          assert.isTrue(equalBytes(yield* readAll(c, hash), bytes))
          yield* c.delete(hash)
        }),
      timeout,
    )

    it.effect(
      "an unknown or refused hash is NotFoundAtSource; Has answers the subset held; a wrong key is refused",
      () =>
        Effect.gen(function* () {
          const w = yield* TunnelWorld
          const { a, b, c } = w
          const client = yield* w.node
          const held = yield* a.addBytes(bytesOf(5_000))
          const secret = yield* a.addBytes(bytesOf(5_000))
          const unknown = yield* Effect.promise(() => blake3(bytesOf(64)))
          const viaA = yield* served(w, client, a, "tunnel-a", {
            allow: (hash) => Effect.succeed(hash !== secret),
          })
          const viaB = yield* served(w, client, b, "tunnel-b")

          for (const hash of [unknown, secret]) {
            const error = yield* Effect.flip(c.fetch({ hash, kind: "blob", sources: [viaA] }))
            assert.strictEqual(error._tag, "AllSourcesFailed")
            if (error._tag === "AllSourcesFailed")
              assert.strictEqual(error.failures[0]?._tag, "NotFoundAtSource")
          }
          assert.deepStrictEqual(yield* askHas(viaA, [held, unknown, secret, held]), [held])
          assert.deepStrictEqual(
            (yield* whoHas([viaA, viaB], held)).map((s) => s.id),
            ["tunnel-a"],
          )

          const stranger = yield* served(w, client, a, "stranger", {
            callerKey: yield* SecretKey.generate,
          })
          const refused = yield* Effect.flip(
            c.fetch({ hash: held, kind: "blob", sources: [stranger] }),
          )
          assert.strictEqual(refused._tag, "AllSourcesFailed")
          if (refused._tag === "AllSourcesFailed") {
            assert.strictEqual(refused.failures[0]?._tag, "SourceError")
            assert.include(refused.failures[0]?.message, "Unauthorized")
          }
          assert.strictEqual((yield* Effect.flip(askHas(stranger, [held])))._tag, "SourceError")
          assert.deepStrictEqual(yield* whoHas([stranger], held), [])
        }),
      timeout,
    )

    it.effect(
      "the protocol serves byte ranges and refuses ranges outside the blob",
      () =>
        Effect.gen(function* () {
          const w = yield* TunnelWorld
          const client = yield* w.node
          const bytes = bytesOf(100_000)
          const hash = yield* w.a.addBytes(bytes)
          const viaA = yield* served(w, client, w.a, "tunnel-a")
          const slice = yield* rawCall(viaA, { _tag: "Get", hash, offset: 40_000, length: 33_000 })
          assert.deepStrictEqual(slice.header, {
            _tag: "Found",
            size: bytes.length,
            offset: 40_000,
            length: 33_000,
          })
          assert.isTrue(equalBytes(slice.body, bytes.subarray(40_000, 73_000)))
          const tail = yield* rawCall(viaA, { _tag: "Get", hash, offset: 99_000 })
          assert.isTrue(equalBytes(tail.body, bytes.subarray(99_000)))
          const outside = yield* rawCall(viaA, { _tag: "Get", hash, offset: 1, length: 100_000 })
          assert.deepStrictEqual(outside.header, { _tag: "InvalidRange", size: bytes.length })
          assert.strictEqual(outside.body.length, 0)
          const junk = yield* Stream.mkUint8Array(
            viaA.peer.open(BLOBS_PROTOCOL, Stream.succeed(new TextEncoder().encode("{]"))),
          )
          const junkHeader = decodeResponse(junk.subarray(HEADER_PREFIX_BYTES))
          assert.strictEqual(Result.getOrThrow(junkHeader)._tag, "BadRequest")
        }),
      timeout,
    )

    it.effect(
      "one fetch takes a collection from the store's own transport and a tunnel source together",
      () =>
        Effect.gen(function* () {
          const w = yield* TunnelWorld
          const { a, b, c } = w
          const client = yield* w.node
          const members = Array.from({ length: 10 }, (_, i) => bytesOf(30_000 + i))
          const entries = []
          for (const [i, m] of members.entries()) {
            entries.push({ name: `f${i}`, hash: yield* a.addBytes(m) })
            yield* b.addBytes(m)
          }
          const root = yield* a.createCollection(entries)
          yield* b.createCollection(entries)
          const sources: Array<Source> = [
            yield* a.source(),
            yield* served(w, client, b, "tunnel-b"),
          ]
          const result = yield* c.fetch({
            hash: root,
            kind: "collection",
            sources,
            concurrencyPerSource: 2,
          })
          // Which source lands which blob is a race (the faster one takes over the end).
          assert.strictEqual(result.blobs, members.length + 2)
          assert.strictEqual(result.sources.length, 2)
          for (const s of result.sources) assert.isUndefined(s.failure, s.source)
          for (const [i, m] of members.entries())
            assert.isTrue(equalBytes(yield* readAll(c, entries[i]?.hash as BlobHash), m))
          yield* c.delete(root)
        }),
      timeout,
    )

    tunnelBatchTests(it, timeout)
  })
}
