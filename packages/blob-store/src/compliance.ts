import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope, Stream } from "effect"
import type { BlobStoreService } from "./blob-store.ts"
import { encodeCollection } from "./collection.ts"
import { SourceError } from "./errors.ts"
import { type BlobHash, blake3 } from "./hash.ts"
import type { ByteStreamSource, FetchEvent, Source } from "./source.ts"
import { tunnelTransportCompliance } from "./tunnel-compliance.ts"

export interface ComplianceOptions {
  /** Makes one store in the given scope (a fresh directory for a persistent layer). */
  readonly makeStore: Effect.Effect<BlobStoreService, unknown, Scope.Scope>
  /** Per-test timeout in ms. Default 60 s. */
  readonly timeout?: number
}

interface Stores {
  readonly a: BlobStoreService
  readonly b: BlobStoreService
  readonly c: BlobStoreService
  /** A store a test may close. */
  readonly doomed: BlobStoreService
  readonly closeDoomed: Effect.Effect<void>
}

class ComplianceStores extends Context.Service<ComplianceStores, Stores>()(
  "@save-dweb/blob-store/compliance/Stores",
) {}

const bytesOf = (n: number) => new Uint8Array(randomBytes(n))
const text = (s: string) => new TextEncoder().encode(s)
const readAll = (store: BlobStoreService, hash: BlobHash) => Stream.mkUint8Array(store.read(hash))
const equalBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))

/** Hash and collection root Iroh 0.35 computes for these entries (measured). */
const knownCollection = {
  entries: [
    { name: "a.txt", text: "hello" },
    { name: "dir/b", text: "" },
    { name: "ünï", text: "hello" },
  ],
  hello: "ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f",
  root: "26cbf008ae94ad8ab0b9c17be746aa4104386811931050e3e525fe3f88940ac1",
}

/** A source that serves other bytes than asked for: what the store must never accept. */
const lyingSource = (id: string): ByteStreamSource => ({
  _tag: "ByteStreamSource",
  id,
  open: () => Stream.make(text("not the bytes you are looking for")),
})

/** A tunnel-like source: streams a blob out of another store, after a delay. */
const storeAsByteSource = (
  id: string,
  store: BlobStoreService,
  delayMillis: number,
): ByteStreamSource => ({
  _tag: "ByteStreamSource",
  id,
  open: (hash) =>
    Stream.fromEffect(Effect.sleep(delayMillis)).pipe(
      Stream.flatMap(() => store.read(hash)),
      Stream.mapError((e) => new SourceError({ source: id, reason: e.message })),
    ),
})

/**
 * The behaviour every BlobStore layer must have. Call it from a test file
 * with the layer's own store factory; the memory layer and the Iroh layer both
 * do. Stores are started once per suite, in parallel. It includes the tunnel
 * transport (serving and fetching over `Tunnels.layerMemory`).
 */
export const blobStoreCompliance = (name: string, options: ComplianceOptions): void => {
  const timeout = options.timeout ?? 60_000
  const stores = Layer.effect(
    ComplianceStores,
    Effect.gen(function* () {
      const doomedScope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(doomedScope, Exit.void))
      const [a, b, c, doomed] = yield* Effect.all(
        [
          options.makeStore,
          options.makeStore,
          options.makeStore,
          options.makeStore.pipe(Scope.provide(doomedScope)),
        ] as const,
        { concurrency: "unbounded" },
      )
      return { a, b, c, doomed, closeDoomed: Scope.close(doomedScope, Exit.void) }
    }),
  )

  layer(stores, { timeout: "180 seconds", excludeTestServices: true })(name, (it) => {
    it.effect(
      "a blob's hash is the BLAKE3 of its bytes, and reading gives the bytes back",
      () =>
        Effect.gen(function* () {
          const { a } = yield* ComplianceStores
          for (const size of [0, 1000, 100_000]) {
            const bytes = bytesOf(size)
            const hash = yield* a.addBytes(bytes)
            assert.strictEqual(hash, yield* Effect.promise(() => blake3(bytes)))
            assert.isTrue(yield* a.has(hash))
            assert.strictEqual(yield* a.size(hash), size)
            assert.isTrue(equalBytes(yield* readAll(a, hash), bytes))
          }
          const hello = yield* a.addBytes(text("hello"))
          assert.strictEqual(hello, knownCollection.hello)
        }),
      timeout,
    )

    it.effect(
      "a byte range reads that slice, in small and in file-backed blobs",
      () =>
        Effect.gen(function* () {
          const { a } = yield* ComplianceStores
          for (const size of [1000, 300_000]) {
            const bytes = bytesOf(size)
            const hash = yield* a.addBytes(bytes)
            const slice = yield* Stream.mkUint8Array(a.read(hash, { offset: 17, length: 500 }))
            assert.isTrue(equalBytes(slice, bytes.subarray(17, 517)))
            const tail = yield* Stream.mkUint8Array(a.read(hash, { offset: size - 10 }))
            assert.isTrue(equalBytes(tail, bytes.subarray(size - 10)))
            const empty = yield* Stream.mkUint8Array(a.read(hash, { offset: size }))
            assert.strictEqual(empty.length, 0)
            for (const range of [
              { offset: size + 1 },
              { offset: 0, length: size + 1 },
              { offset: -1 },
            ]) {
              const error = yield* Effect.flip(Stream.runDrain(a.read(hash, range)))
              assert.strictEqual(error._tag, "InvalidRange")
            }
          }
        }),
      timeout,
    )

    it.effect(
      "an unknown hash is absent: has is false, size and read fail with BlobNotFound",
      () =>
        Effect.gen(function* () {
          const { a } = yield* ComplianceStores
          const hash = yield* Effect.promise(() => blake3(bytesOf(64)))
          assert.isFalse(yield* a.has(hash))
          assert.strictEqual((yield* Effect.flip(a.size(hash)))._tag, "BlobNotFound")
          assert.strictEqual(
            (yield* Effect.flip(Stream.runDrain(a.read(hash))))._tag,
            "BlobNotFound",
          )
          assert.strictEqual((yield* Effect.flip(a.readCollection(hash)))._tag, "BlobNotFound")
        }),
      timeout,
    )

    it.effect(
      "adding a stream of chunks, or a file, gives the hash of the whole",
      () =>
        Effect.gen(function* () {
          const { a } = yield* ComplianceStores
          const chunks = Array.from({ length: 40 }, () => bytesOf(7_777))
          const whole = Buffer.concat(chunks)
          const fromStream = yield* a.addStream(Stream.fromIterable(chunks))
          assert.strictEqual(fromStream, yield* Effect.promise(() => blake3(whole)))
          const dir = yield* Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "blob-store-")))
          yield* Effect.addFinalizer(() =>
            Effect.promise(() => fs.rm(dir, { recursive: true, force: true })),
          )
          const file = path.join(dir, "input")
          yield* Effect.promise(() => fs.writeFile(file, whole))
          assert.strictEqual(yield* a.addPath(file), fromStream)
          const missing = yield* Effect.flip(a.addPath(path.join(dir, "nope")))
          assert.strictEqual(missing._tag, "IoError")
          assert.include(missing.message, path.join(dir, "nope"))
        }),
      timeout,
    )

    it.effect(
      "a stream arriving one chunk at a time past several write batches stores every byte in order",
      () =>
        Effect.gen(function* () {
          const { a } = yield* ComplianceStores
          // 9 MiB in uneven pieces, each its own pull, with a yield between: writes overlap pulls.
          const chunks = Array.from({ length: 150 }, (_, i) => bytesOf(60_000 + (i % 7) * 1_000))
          const whole = Buffer.concat(chunks)
          const hash = yield* a.addStream(
            Stream.fromIterable(chunks, { chunkSize: 1 }).pipe(Stream.tap(() => Effect.yieldNow)),
          )
          assert.strictEqual(hash, yield* Effect.promise(() => blake3(whole)))
          assert.isTrue(equalBytes(yield* readAll(a, hash), whole))
        }),
      timeout,
    )

    it.effect(
      "a stream that fails part-way fails the add with its error and stores nothing",
      () =>
        Effect.gen(function* () {
          const { a } = yield* ComplianceStores
          const before = yield* a.list()
          const failing = Stream.fromIterable(
            Array.from({ length: 40 }, () => bytesOf(100_000)),
            { chunkSize: 1 },
          ).pipe(Stream.concat(Stream.fail("input broke" as const)))
          const error = yield* Effect.flip(a.addStream(failing))
          assert.strictEqual(error, "input broke")
          assert.deepStrictEqual(yield* a.list(), before)
        }),
      timeout,
    )

    it.effect(
      "collections have Iroh's hash, read back sorted by name, and update to a new root",
      () =>
        Effect.gen(function* () {
          const { a } = yield* ComplianceStores
          const entries = []
          for (const e of [...knownCollection.entries].reverse())
            entries.push({ name: e.name, hash: yield* a.addBytes(text(e.text)) })
          const root = yield* a.createCollection(entries)
          assert.strictEqual(root, knownCollection.root)
          const read = yield* a.readCollection(root)
          assert.deepStrictEqual(
            read.map((e) => e.name),
            knownCollection.entries.map((e) => e.name),
          )
          const extra = yield* a.addBytes(bytesOf(2000))
          const next = yield* a.updateCollection(root, {
            set: [{ name: "extra", hash: extra }],
            remove: ["dir/b"],
          })
          const expected = yield* Effect.promise(() =>
            encodeCollection([
              { name: "a.txt", hash: knownCollection.hello as BlobHash },
              { name: "extra", hash: extra },
              { name: "ünï", hash: knownCollection.hello as BlobHash },
            ]),
          )
          assert.strictEqual(next, expected.root)
          const roots = yield* a.list()
          assert.isTrue(roots.some((r) => r.hash === next && r.kind === "collection"))
          assert.isFalse(
            roots.some((r) => r.hash === root),
            "update replaces the old root",
          )
          assert.isFalse(
            roots.some((r) => r.hash === extra),
            "a collection takes over its members' pins",
          )
          yield* a.delete(next)
        }),
      timeout,
    )

    it.effect(
      "a collection refuses unknown members, unsafe or duplicate names",
      () =>
        Effect.gen(function* () {
          const { a } = yield* ComplianceStores
          const known = yield* a.addBytes(bytesOf(100))
          const unknown = yield* Effect.promise(() => blake3(bytesOf(100)))
          const missing = yield* Effect.flip(a.createCollection([{ name: "x", hash: unknown }]))
          assert.strictEqual(missing._tag, "BlobNotFound")
          for (const name of ["../x", "/abs", "a//b", "", "a/./b", "nul\0"]) {
            const bad = yield* Effect.flip(a.createCollection([{ name, hash: known }]))
            assert.strictEqual(bad._tag, "InvalidCollection", name)
          }
          const dup = yield* Effect.flip(
            a.createCollection([
              { name: "x", hash: known },
              { name: "x", hash: known },
            ]),
          )
          assert.strictEqual(dup._tag, "InvalidCollection")
          yield* a.delete(known)
        }),
      timeout,
    )

    it.effect(
      "delete frees a root and the members nothing else holds, and is idempotent",
      () =>
        Effect.gen(function* () {
          const { a } = yield* ComplianceStores
          const solo = yield* a.addBytes(bytesOf(50_000))
          assert.deepStrictEqual((yield* a.delete(solo)).freed, [solo])
          assert.isFalse(yield* a.has(solo))
          assert.deepStrictEqual((yield* a.delete(solo)).freed, [])

          const shared = yield* a.addBytes(bytesOf(40_000))
          const onlyInFirst = yield* a.addBytes(bytesOf(40_000))
          const first = yield* a.createCollection([
            { name: "shared", hash: shared },
            { name: "mine", hash: onlyInFirst },
          ])
          const second = yield* a.createCollection([{ name: "shared", hash: shared }])
          const freed = yield* a.delete(first)
          assert.isTrue(freed.freed.includes(first))
          assert.isTrue(freed.freed.includes(onlyInFirst))
          assert.isFalse(freed.freed.includes(shared))
          assert.isFalse(yield* a.has(onlyInFirst))
          assert.isTrue(yield* a.has(shared))
          assert.deepStrictEqual(
            (yield* a.readCollection(second)).map((e) => e.hash),
            [shared],
          )
          yield* a.delete(second)
          assert.isFalse(yield* a.has(shared))
          assert.isFalse((yield* a.list()).some((r) => r.hash === second || r.hash === first))
        }),
      timeout,
    )

    it.effect(
      "export writes a blob to a file and a collection to a directory tree",
      () =>
        Effect.gen(function* () {
          const { a } = yield* ComplianceStores
          const big = bytesOf(200_000)
          const small = bytesOf(300)
          const root = yield* a.createCollection([
            { name: "big.bin", hash: yield* a.addBytes(big) },
            { name: "sub/small.bin", hash: yield* a.addBytes(small) },
          ])
          const dir = yield* Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "blob-store-")))
          yield* Effect.addFinalizer(() =>
            Effect.promise(() => fs.rm(dir, { recursive: true, force: true })),
          )
          yield* a.exportCollection(root, path.join(dir, "out"))
          assert.isTrue(
            equalBytes(
              yield* Effect.promise(() => fs.readFile(path.join(dir, "out/big.bin"))),
              big,
            ),
          )
          assert.isTrue(
            equalBytes(
              yield* Effect.promise(() => fs.readFile(path.join(dir, "out/sub/small.bin"))),
              small,
            ),
          )
          const one = yield* a.addBytes(small)
          yield* a.exportBlob(one, path.join(dir, "one"))
          assert.isTrue(
            equalBytes(yield* Effect.promise(() => fs.readFile(path.join(dir, "one"))), small),
          )
          yield* a.delete(root)
        }),
      timeout,
    )

    it.effect(
      "fetching a blob brings verified bytes and pins them; progress ends with Done",
      () =>
        Effect.gen(function* () {
          const { a, b } = yield* ComplianceStores
          const bytes = bytesOf(123_456)
          const hash = yield* a.addBytes(bytes)
          const events: Array<FetchEvent> = []
          yield* b
            .fetchWithProgress({ hash, kind: "blob", sources: [yield* a.source()] })
            .pipe(Stream.runForEach((e) => Effect.sync(() => events.push(e))))
          const last = events.at(-1)
          assert.strictEqual(last?._tag, "Done")
          if (last?._tag === "Done") {
            assert.strictEqual(last.result.bytes, bytes.length)
            assert.strictEqual(last.result.blobs, 1)
          }
          assert.isTrue(equalBytes(yield* readAll(b, hash), bytes))
          assert.isTrue((yield* b.list()).some((r) => r.hash === hash && r.kind === "blob"))
          const again = yield* b.fetch({ hash, kind: "blob", sources: [yield* a.source()] })
          assert.strictEqual(again.bytes, bytes.length)
        }),
      timeout,
    )

    it.effect(
      "fetching a collection from two sources brings every member",
      () =>
        Effect.gen(function* () {
          const { a, b, c } = yield* ComplianceStores
          const members = Array.from({ length: 12 }, (_, i) => ({
            name: `f${i}`,
            bytes: bytesOf(20_000 + i),
          }))
          const entries = []
          for (const m of members) entries.push({ name: m.name, hash: yield* a.addBytes(m.bytes) })
          const root = yield* a.createCollection(entries)
          yield* b.fetch({ hash: root, kind: "collection", sources: [yield* a.source()] })
          const result = yield* c.fetch({
            hash: root,
            kind: "collection",
            sources: [yield* a.source(), yield* b.source()],
            concurrencyPerSource: 2,
          })
          assert.strictEqual(result.blobs, members.length + 2)
          assert.strictEqual(
            result.sources.reduce((n, s) => n + s.blobs, 0),
            members.length + 2,
          )
          const read = yield* c.readCollection(root)
          assert.deepStrictEqual(
            read.map((e) => e.name),
            entries.map((e) => e.name).sort(),
          )
          for (const m of members) {
            const entry = read.find((e) => e.name === m.name)
            assert.isTrue(entry !== undefined && equalBytes(yield* readAll(c, entry.hash), m.bytes))
          }
          assert.isTrue((yield* c.list()).some((r) => r.hash === root && r.kind === "collection"))
          yield* c.delete(root)
          for (const e of entries) assert.isFalse(yield* c.has(e.hash))
        }),
      timeout,
    )

    it.effect(
      "a faster source takes over the blobs a stalled source still holds, which is cancelled",
      () =>
        Effect.gen(function* () {
          const { a, c } = yield* ComplianceStores
          const entries = []
          for (let i = 0; i < 8; i++)
            entries.push({ name: `e${i}`, hash: yield* a.addBytes(bytesOf(25_000 + i)) })
          const root = yield* a.createCollection(entries)
          let started = 0
          let cancelled = 0
          // Holds every blob it is asked for far longer than the test may run.
          const stalled: ByteStreamSource = {
            _tag: "ByteStreamSource",
            id: "stalled",
            open: () =>
              Stream.fromEffect(
                Effect.sync(() => started++).pipe(
                  Effect.andThen(Effect.never),
                  Effect.onInterrupt(() => Effect.sync(() => cancelled++)),
                ),
              ),
          }
          const result = yield* c.fetch({
            hash: root,
            kind: "collection",
            sources: [yield* a.source(), stalled],
            concurrencyPerSource: 2,
            timeoutMillis: 600_000,
          })
          assert.strictEqual(result.blobs, entries.length + 2)
          const slow = result.sources.find((s) => s.source === "stalled")
          assert.strictEqual(slow?.blobs, 0)
          assert.isUndefined(slow?.failure)
          assert.isAbove(started, 0)
          assert.strictEqual(cancelled, started)
          for (const e of entries) assert.isTrue(yield* c.has(e.hash))
          yield* c.delete(root)
        }),
      timeout,
    )

    it.effect(
      "fetch errors are typed: no source, a hash nobody has",
      () =>
        Effect.gen(function* () {
          const { a, b } = yield* ComplianceStores
          const hash = yield* Effect.promise(() => blake3(bytesOf(32)))
          const none = yield* Effect.flip(b.fetch({ hash, kind: "blob", sources: [] }))
          assert.strictEqual(none._tag, "NoSource")
          const unknown = yield* Effect.flip(
            b.fetch({ hash, kind: "blob", sources: [yield* a.source()], timeoutMillis: 5_000 }),
          )
          assert.strictEqual(unknown._tag, "AllSourcesFailed")
          if (unknown._tag === "AllSourcesFailed") {
            assert.strictEqual(unknown.failures.length, 1)
            assert.strictEqual(unknown.failures[0]?._tag, "NotFoundAtSource")
          }
          assert.isFalse(yield* b.has(hash))
        }),
      timeout,
    )

    it.effect(
      "wrong bytes from a source are refused with HashMismatch and never become visible",
      () =>
        Effect.gen(function* () {
          const { a, b, c } = yield* ComplianceStores
          const bytes = bytesOf(70_000)
          const hash = yield* a.addBytes(bytes)
          const alone = yield* Effect.flip(
            b.fetch({ hash, kind: "blob", sources: [lyingSource("liar")] }),
          )
          assert.strictEqual(alone._tag, "AllSourcesFailed")
          if (alone._tag === "AllSourcesFailed")
            assert.strictEqual(alone.failures[0]?._tag, "HashMismatch")
          assert.isFalse(yield* b.has(hash))

          // The liar answers at once; the honest tunnel-like source a little later.
          const result = yield* c.fetch({
            hash,
            kind: "blob",
            sources: [lyingSource("liar"), storeAsByteSource("honest", a, 100)],
            concurrencyPerSource: 1,
          })
          const liar = result.sources.find((s) => s.source === "liar")
          assert.strictEqual(liar?.failure?._tag, "HashMismatch")
          assert.isTrue(equalBytes(yield* readAll(c, hash), bytes))
        }),
      timeout,
    )

    it.effect(
      "a closed store refuses calls with StoreClosed and is an unreachable source",
      () =>
        Effect.gen(function* () {
          const { a, b, doomed, closeDoomed } = yield* ComplianceStores
          const hash = yield* a.addBytes(bytesOf(10_000))
          const gone: Source = yield* doomed.source()
          yield* closeDoomed
          assert.strictEqual((yield* Effect.flip(doomed.has(hash)))._tag, "StoreClosed")
          assert.strictEqual((yield* Effect.flip(doomed.addBytes(bytesOf(10))))._tag, "StoreClosed")
          assert.strictEqual((yield* Effect.flip(doomed.list()))._tag, "StoreClosed")
          const started = Date.now()
          const error = yield* Effect.flip(
            b.fetch({ hash, kind: "blob", sources: [gone], timeoutMillis: 1_500 }),
          )
          assert.isBelow(Date.now() - started, 10_000)
          assert.strictEqual(error._tag, "AllSourcesFailed")
          if (error._tag === "AllSourcesFailed")
            assert.include(["SourceUnreachable", "SourceTimeout"], error.failures[0]?._tag)
        }),
      timeout,
    )
  })
  tunnelTransportCompliance(`${name}: tunnel transport`, options)
}
