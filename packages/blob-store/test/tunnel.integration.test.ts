// The tunnel transport on real nodes: two Veilid nodes on a private testnet
// (tooling/veilid-testnet) and two Iroh stores. Run inside the testnet namespace:
// `pnpm --filter @save-dweb/blob-store test` (or `test:integration`).
import { randomBytes } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { SecretKey } from "@save-dweb/crypto"
import { makeTunnels, Tunnels } from "@save-dweb/tunnels"
import { decodeConfig, makeVeilid, Veilid } from "@save-dweb/veilid"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Context, Effect, Layer, Stream } from "effect"
import { BlobStore, type BlobStoreService } from "../src/blob-store.ts"
import { type BlobHash, blake3 } from "../src/hash.ts"
import type { Source, TunnelSource } from "../src/source.ts"
import { serveBlobs } from "../src/tunnel-provider.ts"
import { askHas, connectTunnelSource, whoHas } from "../src/tunnel-source.ts"
import { irohStore } from "./iroh-helpers.ts"

const MiB = 1024 * 1024
const bytesOf = (n: number) => new Uint8Array(randomBytes(n))
const hashOfRead = (store: BlobStoreService, hash: BlobHash) =>
  Effect.flatMap(Stream.mkUint8Array(store.read(hash)), (bytes) =>
    Effect.promise(() => blake3(bytes)),
  )

interface World {
  /** Serves its blobs over its tunnel (and is an Iroh peer). */
  readonly provider: BlobStoreService
  /** Fetches. */
  readonly fetcher: BlobStoreService
  /** The provider, reached through its private route from the fetcher's Veilid node. */
  readonly tunnel: TunnelSource
}

class TestWorld extends Context.Service<TestWorld, World>()("test/TunnelWorld") {}

const world = Layer.effect(
  TestWorld,
  Effect.gen(function* () {
    const testnet = yield* withTestnet()
    const start = (name: string) =>
      Effect.flatMap(decodeConfig(testnet.nodeConfig(name)), (config) =>
        makeVeilid(config, { readyTimeout: "90 seconds" }),
      )
    const [veilidA, veilidB, provider, fetcher] = yield* Effect.all(
      [start("fetcher"), start("provider"), irohStore(), irohStore()],
      { concurrency: "unbounded" },
    )
    const key = yield* SecretKey.generate
    const serving = yield* makeTunnels().pipe(Effect.provideService(Veilid, veilidB))
    yield* serveBlobs({ keys: [key] }).pipe(
      Effect.provideService(BlobStore, provider),
      Effect.provideService(Tunnels, serving),
    )
    const fetching = yield* makeTunnels().pipe(Effect.provideService(Veilid, veilidA))
    const tunnel = yield* connectTunnelSource((yield* serving.route).blob, key, {
      id: "tunnel",
    }).pipe(Effect.provideService(Tunnels, fetching))
    return { provider, fetcher, tunnel }
  }),
)

layer(world, { timeout: "300 seconds", excludeTestServices: true })(
  "blob-store over Veilid tunnels on a private testnet",
  (it) => {
    it.effect(
      "a blob served over a private route is fetched through the tunnel and verifies",
      () =>
        Effect.gen(function* () {
          const { provider, fetcher, tunnel } = yield* TestWorld
          const hash = yield* provider.addBytes(bytesOf(3 * MiB + 12_345))
          const absent = yield* Effect.promise(() => blake3(bytesOf(100)))
          assert.deepStrictEqual(yield* askHas(tunnel, [hash, absent]), [hash])
          assert.deepStrictEqual(
            (yield* whoHas([tunnel], hash, { timeoutMillis: 60_000 })).map((s) => s.id),
            ["tunnel"],
          )
          const result = yield* fetcher.fetch({
            hash,
            kind: "blob",
            sources: [tunnel],
            timeoutMillis: 30_000,
          })
          assert.strictEqual(result.bytes, 3 * MiB + 12_345)
          assert.strictEqual(result.sources[0]?.blobs, 1)
          assert.strictEqual(yield* hashOfRead(fetcher, hash), hash)
          const missing = yield* Effect.flip(
            fetcher.fetch({ hash: absent, kind: "blob", sources: [tunnel], timeoutMillis: 30_000 }),
          )
          assert.strictEqual(missing._tag, "AllSourcesFailed")
          if (missing._tag === "AllSourcesFailed")
            assert.strictEqual(missing.failures[0]?._tag, "NotFoundAtSource")
        }),
      240_000,
    )

    it.effect(
      "one fetch takes a collection from an Iroh source and a tunnel source at once",
      () =>
        Effect.gen(function* () {
          const { provider, fetcher, tunnel } = yield* TestWorld
          // Many small blobs: Iroh is several times faster here and takes over the last
          // blobs the tunnel holds, but the tunnel lands its first ones long before that.
          const members = Array.from({ length: 64 }, () => bytesOf(128 * 1024))
          const entries = []
          for (const [i, m] of members.entries())
            entries.push({ name: `f${i}`, hash: yield* provider.addBytes(m) })
          const root = yield* provider.createCollection(entries)
          const sources: Array<Source> = [yield* provider.source(), tunnel]
          const result = yield* fetcher.fetch({
            hash: root,
            kind: "collection",
            sources,
            concurrencyPerSource: 2,
            timeoutMillis: 30_000,
          })
          assert.strictEqual(result.blobs, members.length + 2)
          assert.strictEqual(
            result.sources.filter((s) => s.blobs > 0 && s.failure === undefined).length,
            2,
            JSON.stringify(result.sources),
          )
          for (const e of entries) assert.strictEqual(yield* hashOfRead(fetcher, e.hash), e.hash)
        }),
      240_000,
    )
  },
)
