// One large blob from several tunnel sources at once (Iroh store only: the memory layer
// takes a blob from one source at a time), over `Tunnels.layerMemory`.
import { assert, layer } from "@effect/vitest"
import { SecretKey } from "@save-dweb/crypto"
import { MemoryNetwork, makeTunnelsMemory, Tunnels, type TunnelsShape } from "@save-dweb/tunnels"
import { Context, Effect, Layer, Stream } from "effect"
import { BlobStore, type BlobStoreService } from "../src/blob-store.ts"
import { bytesOf, equalBytes, readAll } from "../src/compliance/support.ts"
import {
  HashMismatch,
  type SourceFailure,
  SourceTimeout,
  SourceUnreachable,
} from "../src/errors.ts"
import type { BlobHash } from "../src/hash.ts"
import { pieceBytes, sourcesAfterSplit, splitMinBytes } from "../src/split-fetch.ts"
import { serveBlobs } from "../src/tunnel-provider.ts"
import { tunnelSource } from "../src/tunnel-source.ts"
import { irohStore } from "./iroh-helpers.ts"

class World extends Context.Service<
  World,
  {
    readonly stores: ReadonlyArray<BlobStoreService>
    readonly node: Effect.Effect<TunnelsShape, unknown, import("effect").Scope.Scope>
  }
>()("@save-dweb/blob-store/test/SplitWorld") {}

const world = Layer.effect(
  World,
  Effect.gen(function* () {
    const network = yield* MemoryNetwork
    const stores = yield* Effect.all([irohStore(), irohStore(), irohStore(), irohStore()], {
      concurrency: "unbounded",
    })
    const node = makeTunnelsMemory().pipe(Effect.provideService(MemoryNetwork, network))
    return { stores, node }
  }),
).pipe(Layer.provide(MemoryNetwork.layer()))

/** Serves `store` on a new tunnels node; a source that reaches it from `client`. */
const served = (
  node: World["Service"]["node"],
  client: TunnelsShape,
  store: BlobStoreService,
  id: string,
) =>
  Effect.gen(function* () {
    const key = yield* SecretKey.generate
    const provider = yield* node
    yield* serveBlobs({ keys: [key] }).pipe(
      Effect.provideService(BlobStore, store),
      Effect.provideService(Tunnels, provider),
    )
    return tunnelSource(yield* client.connect((yield* provider.route).blob, key), { id })
  })

layer(world, { timeout: "180 seconds", excludeTestServices: true })("split fetch (Iroh)", (it) => {
  it("after a split that failed, only sources it found unreachable or silent before any byte are left out", () => {
    const sources = [{ id: "a" }, { id: "b" }, { id: "c" }, { id: "d" }]
    const progress = (source: string, bytes: number, failure: SourceFailure | undefined) => ({
      source,
      bytes,
      blobs: 0,
      failure,
    })
    const unreachable = new SourceUnreachable({ source: "a", reason: "no route" })
    const silent = new SourceTimeout({ source: "b", afterMillis: 10_000 })
    const slowLater = new SourceTimeout({ source: "c", afterMillis: 10_000 })
    const left = sourcesAfterSplit(sources, {
      complete: false,
      sources: [
        progress("a", 0, unreachable),
        progress("b", 0, silent),
        progress("c", 4096, slowLater),
        progress("d", 8192, undefined),
      ],
    })
    assert.deepStrictEqual(
      left.map((s) => s.id),
      ["c", "d"],
    )
    // Bytes that were not the blob: every source is asked again, one at a time, to name the liar.
    const mismatch = new HashMismatch({
      source: "a+b",
      expected: "x" as BlobHash,
      actual: "y" as BlobHash,
    })
    assert.strictEqual(
      sourcesAfterSplit(sources, {
        complete: false,
        sources: sources.map((s) => progress(s.id, 100, mismatch)),
      }).length,
      4,
    )
  })

  it("pieces are about four per source, within 1 and 8 MiB", () => {
    assert.strictEqual(pieceBytes(16 * 1024 * 1024, 2), 2 * 1024 * 1024)
    assert.strictEqual(pieceBytes(9 * 1024 * 1024, 3), 1024 * 1024)
    assert.strictEqual(pieceBytes(1024 * 1024 * 1024, 2), 8 * 1024 * 1024)
  })

  it.effect(
    "a large blob comes from every tunnel source or Iroh node at once, verified; one that lacks it leaves its pieces to the others; a small one comes from one",
    () =>
      Effect.gen(function* () {
        const { stores, node } = yield* World
        const [a, b, c, d] = stores as [
          BlobStoreService,
          BlobStoreService,
          BlobStoreService,
          BlobStoreService,
        ]
        const client = yield* node
        const bytes = bytesOf(splitMinBytes + 3 * 1024 * 1024 + 17)
        const hash = yield* a.addBytes(bytes)
        assert.strictEqual(yield* b.addBytes(bytes), hash)
        const viaA = yield* served(node, client, a, "tunnel-a")
        const viaB = yield* served(node, client, b, "tunnel-b")
        const viaD = yield* served(node, client, d, "tunnel-d") // holds nothing

        const result = yield* c.fetch({
          hash,
          kind: "blob",
          sources: [viaA, viaB, viaD],
          expectedSize: bytes.length,
        })
        assert.isTrue(equalBytes(yield* readAll(c, hash), bytes))
        const from = new Map(result.sources.map((s) => [s.source, s]))
        assert.isAbove(from.get("tunnel-a")?.bytes ?? 0, 0, JSON.stringify(result.sources))
        assert.isAbove(from.get("tunnel-b")?.bytes ?? 0, 0, JSON.stringify(result.sources))
        assert.strictEqual(from.get("tunnel-d")?.failure?._tag, "NotFoundAtSource")
        assert.isTrue((yield* c.list()).some((r) => r.hash === hash && r.kind === "blob"))

        // Read while it is fetched: the same bytes, in order.
        yield* c.delete(hash)
        const streamed = yield* Stream.mkUint8Array(
          c.readWhileFetching(
            hash,
            c.fetch({ hash, kind: "blob", sources: [viaA, viaB], expectedSize: bytes.length }),
          ),
        )
        assert.isTrue(equalBytes(streamed, bytes))

        // Iroh nodes answer ranges too (RANGE_ALPN): the same blob from both at once.
        yield* c.delete(hash)
        const direct = yield* c.fetch({
          hash,
          kind: "blob",
          sources: [yield* a.source(), yield* b.source()],
          expectedSize: bytes.length,
        })
        assert.isTrue(equalBytes(yield* readAll(c, hash), bytes))
        assert.strictEqual(
          direct.sources.filter((s) => s.bytes > 0).length,
          2,
          JSON.stringify(direct.sources),
        )

        // Under the threshold: one source sends it all.
        const small = bytesOf(splitMinBytes - 1)
        const smallHash = yield* a.addBytes(small)
        yield* b.addBytes(small)
        const one = yield* c.fetch({
          hash: smallHash,
          kind: "blob",
          sources: [viaA, viaB],
          expectedSize: small.length,
        })
        assert.strictEqual(one.sources.filter((s) => s.bytes > 0).length, 1)
      }),
    120_000,
  )
})
