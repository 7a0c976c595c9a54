import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Stream } from "effect"
import type { BlobStoreService } from "../src/blob-store.ts"
import { type BlobHash, blake3 } from "../src/hash.ts"
import type { FetchEvent, Source } from "../src/source.ts"
import { type ClosableStore, closableStore, irohStore } from "./iroh-helpers.ts"

const MiB = 1024 * 1024
const bytesOf = (n: number) => new Uint8Array(randomBytes(n))
const hashOfStream = (store: BlobStoreService, hash: BlobHash) =>
  Effect.map(Stream.mkUint8Array(store.read(hash)), (bytes) =>
    Effect.promise(() => blake3(bytes)),
  ).pipe(Effect.flatten)
const dataFiles = (dir: string) =>
  Effect.promise(async () => {
    const files = await fs.readdir(path.join(dir, "iroh", "blobs", "data")).catch(() => [])
    return files.filter((f) => f.endsWith(".data")).map((f) => f.slice(0, 64))
  })

interface Nodes {
  /** Fetches. */
  readonly d: ClosableStore
  /** Always-good source. */
  readonly s1: BlobStoreService
  /** Killed mid-fetch. */
  readonly s2: ClosableStore
  /** Restarted with another blob's bytes under a hash. */
  readonly s3: ClosableStore
}

class TestNodes extends Context.Service<TestNodes, Nodes>()("test/TestNodes") {}

const nodes = Layer.effect(
  TestNodes,
  Effect.gen(function* () {
    const [d, s1, s2, s3] = yield* Effect.all(
      [closableStore(), irohStore(), closableStore(), closableStore()],
      {
        concurrency: "unbounded",
      },
    )
    return { d, s1, s2, s3 }
  }),
)

layer(nodes, { timeout: "120 seconds", excludeTestServices: true })("Iroh BlobStore", (it) => {
  it.effect(
    "delete removes the data files of the blob and of collection members no other root holds",
    () =>
      Effect.gen(function* () {
        const { d } = yield* TestNodes
        const store = d.store()
        const solo = yield* store.addBytes(bytesOf(100_000))
        const shared = yield* store.addBytes(bytesOf(100_000))
        const member = yield* store.addBytes(bytesOf(100_000))
        const tiny = yield* store.addBytes(bytesOf(1_000))
        // Blobs of 16 KiB or less live inside Iroh's database, not as files.
        assert.includeMembers(yield* dataFiles(d.dir), [solo, shared, member])
        assert.notInclude(yield* dataFiles(d.dir), tiny)

        yield* store.delete(solo)
        assert.notInclude(yield* dataFiles(d.dir), solo)

        const first = yield* store.createCollection([
          { name: "shared", hash: shared },
          { name: "member", hash: member },
          { name: "tiny", hash: tiny },
        ])
        const second = yield* store.createCollection([{ name: "shared", hash: shared }])
        const { freed } = yield* store.delete(first)
        assert.includeMembers([...freed], [first, member, tiny])
        const left = yield* dataFiles(d.dir)
        assert.notInclude(left, member)
        assert.include(left, shared)
        assert.isFalse(yield* store.has(tiny))
        yield* store.delete(second)
        assert.notInclude(yield* dataFiles(d.dir), shared)
      }),
  )

  // Runs before the fetcher has ever connected to s3: a node that knew a
  // peer's old address did not reach it on its new port within 5 s.
  it.effect(
    "a peer serving other bytes under the hash is dropped and the fetch completes from another; its identity survives a restart",
    () =>
      Effect.gen(function* () {
        const { d, s1, s3 } = yield* TestNodes
        // Big enough that Iroh keeps the outboard (BLAKE3 tree) in a file too.
        const wanted = bytesOf(6 * MiB)
        const other = bytesOf(6 * MiB)
        const x = yield* s3.store().addBytes(wanted)
        const y = yield* s3.store().addBytes(other)
        yield* s1.addBytes(wanted)
        const before = yield* s3.store().source()
        yield* s3.close
        const data = path.join(s3.dir, "iroh", "blobs", "data")
        yield* Effect.promise(async () => {
          await fs.copyFile(path.join(data, `${y}.data`), path.join(data, `${x}.data`))
          await fs.copyFile(path.join(data, `${y}.obao4`), path.join(data, `${x}.obao4`))
        })
        const restarted = yield* s3.restart
        const after = yield* restarted.source()
        assert.strictEqual(
          after._tag === "IrohSource" && after.nodeId,
          before._tag === "IrohSource" && before.nodeId,
        )
        const mode =
          (yield* Effect.promise(() => fs.stat(path.join(s3.dir, "secret.key")))).mode & 0o777
        assert.strictEqual(mode, 0o600)
        assert.isTrue(
          (yield* restarted.list()).some((r) => r.hash === x),
          "pins survive a restart",
        )

        const result = yield* d.store().fetch({
          hash: x,
          kind: "blob",
          sources: [after, yield* s1.source()],
          concurrencyPerSource: 1,
        })
        const liar = result.sources.find((s) => s.source === (after as { id: string }).id)
        assert.isDefined(liar?.failure, JSON.stringify(result.sources))
        assert.strictEqual(yield* hashOfStream(d.store(), x), x)
        yield* d.store().delete(x)
      }),
  )

  it.effect("a collection fetched from three sources is spread over them", () =>
    Effect.gen(function* () {
      const { d, s1, s2, s3 } = yield* TestNodes
      const entries = []
      for (let i = 0; i < 24; i++)
        entries.push({ name: `file-${i}`, hash: yield* s1.addBytes(bytesOf(256 * 1024)) })
      const root = yield* s1.createCollection(entries)
      const s1Source = yield* s1.source()
      yield* Effect.all(
        [
          s2.store().fetch({ hash: root, kind: "collection", sources: [s1Source] }),
          s3.store().fetch({ hash: root, kind: "collection", sources: [s1Source] }),
        ],
        { concurrency: "unbounded" },
      )
      const sources: Array<Source> = [
        s1Source,
        yield* s2.store().source(),
        yield* s3.store().source(),
      ]
      const result = yield* d
        .store()
        .fetch({ hash: root, kind: "collection", sources, concurrencyPerSource: 2 })
      assert.strictEqual(result.blobs, entries.length + 2)
      const busy = result.sources.filter((s) => s.blobs > 0)
      assert.isAtLeast(busy.length, 2, JSON.stringify(result.sources))
      for (const e of entries) assert.strictEqual(yield* hashOfStream(d.store(), e.hash), e.hash)
      yield* d.store().delete(root)
    }),
  )

  it.effect("a source killed mid-fetch: another source resumes from the verified bytes", () =>
    Effect.gen(function* () {
      const { d, s1, s2 } = yield* TestNodes
      const size = 64 * MiB
      const bytes = bytesOf(size)
      const hash = yield* s2.store().addBytes(bytes)
      yield* s1.addBytes(bytes)
      const sources = [yield* s2.store().source(), yield* s1.source()]
      let killer: Fiber.Fiber<void> | undefined
      const events: Array<FetchEvent> = []
      yield* d
        .store()
        .fetchWithProgress({
          hash,
          kind: "blob",
          sources,
          concurrencyPerSource: 1,
          timeoutMillis: 3_000,
        })
        .pipe(
          Stream.runForEach((event) =>
            Effect.gen(function* () {
              events.push(event)
              if (killer === undefined && event._tag === "Progress" && event.bytesDone >= 4 * MiB)
                killer = yield* Effect.forkChild(s2.close)
            }),
          ),
        )
      if (killer) yield* Fiber.join(killer)
      const done = events.at(-1)
      assert.strictEqual(done?._tag, "Done")
      if (done?._tag !== "Done") return
      const [fromKilled, fromGood] = done.result.sources
      assert.isDefined(fromKilled?.failure, "the killed source is reported")
      assert.isAbove(fromKilled?.bytes ?? 0, 0)
      assert.isBelow(fromGood?.bytes ?? size, size, "the good source only sent what was missing")
      assert.strictEqual(done.result.bytes, size)
      assert.strictEqual(yield* hashOfStream(d.store(), hash), hash)
    }),
  )
})
