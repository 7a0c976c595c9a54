// Adding and reading blobs: hashes, byte ranges, absent hashes, streams and files.
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { assert } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { blake3 } from "../hash.ts"
import {
  bytesOf,
  type ComplianceIt,
  ComplianceStores,
  equalBytes,
  knownCollection,
  readAll,
  text,
} from "./support.ts"

export const blobTests = (it: ComplianceIt, timeout: number) => {
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
    "flush returns once what was added is kept, and changes nothing that is read",
    () =>
      Effect.gen(function* () {
        const { a } = yield* ComplianceStores
        const bytes = bytesOf(50_000)
        const hash = yield* a.addBytes(bytes)
        const before = yield* a.list()
        yield* a.flush
        yield* a.flush
        assert.deepStrictEqual(yield* a.list(), before)
        assert.isTrue(equalBytes(yield* readAll(a, hash), bytes))
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
    "a read into the caller's buffer hands out views of it, each taken before the next read overwrites it",
    () =>
      Effect.gen(function* () {
        const { a } = yield* ComplianceStores
        for (const size of [1000, 300_000]) {
          const bytes = bytesOf(size)
          const hash = yield* a.addBytes(bytes)
          for (const range of [
            undefined,
            { offset: 70_001 % size, length: size - (70_001 % size) - 3 },
          ]) {
            const into = new Uint8Array(4096)
            const copies: Array<Uint8Array> = []
            yield* Stream.runForEach(a.read(hash, range, { into }), (chunk) =>
              Effect.sync(() => {
                assert.strictEqual(chunk.buffer, into.buffer, "a view of the caller's buffer")
                assert.isAtMost(chunk.length, into.length)
                copies.push(chunk.slice())
              }),
            )
            const start = range?.offset ?? 0
            const end = range === undefined ? size : start + (range.length ?? size - start)
            assert.isTrue(equalBytes(Buffer.concat(copies), bytes.subarray(start, end)))
          }
        }
        const missing = yield* Effect.promise(() => blake3(bytesOf(64)))
        const error = yield* Effect.flip(
          Stream.runDrain(a.read(missing, undefined, { into: new Uint8Array(16) })),
        )
        assert.strictEqual(error._tag, "BlobNotFound")
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
        assert.strictEqual((yield* Effect.flip(Stream.runDrain(a.read(hash))))._tag, "BlobNotFound")
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
}
