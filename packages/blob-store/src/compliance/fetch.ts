import { assert } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { blake3 } from "../hash.ts"
import type { ByteStreamSource, FetchEvent } from "../source.ts"
import {
  bytesOf,
  type ComplianceIt,
  ComplianceStores,
  equalBytes,
  lyingSource,
  readAll,
  storeAsByteSource,
} from "./support.ts"

export const fetchTests = (it: ComplianceIt, timeout: number) => {
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
    "a blob read while it is fetched hands out its first bytes before the fetch ends",
    () =>
      Effect.gen(function* () {
        const { a, b, c } = yield* ComplianceStores
        const bytes = bytesOf(300_000)
        const hash = yield* a.addBytes(bytes)
        const half = 150_000
        const gate = yield* Deferred.make<void>()
        // Sends the first half, then waits for the test before it sends the rest.
        const gated: ByteStreamSource = {
          _tag: "ByteStreamSource",
          id: "gated",
          open: () =>
            Stream.concat(
              Stream.make(bytes.slice(0, half)),
              Stream.fromEffect(Deferred.await(gate)).pipe(
                Stream.flatMap(() => Stream.make(bytes.slice(half))),
              ),
            ),
        }
        const got: Array<Uint8Array> = []
        const reader = yield* b
          .readWhileFetching(hash, b.fetch({ hash, kind: "blob", sources: [gated] }))
          .pipe(
            Stream.runForEach((chunk) => Effect.sync(() => got.push(chunk))),
            Effect.forkChild,
          )
        const received = () => got.reduce((n, chunk) => n + chunk.length, 0)
        yield* Effect.sleep(20).pipe(
          Effect.repeat({ until: () => received() >= half }),
          Effect.timeout("10 seconds"),
        )
        // The first half is out while the source still holds back the rest.
        assert.strictEqual(received(), half)
        assert.isTrue(equalBytes(Buffer.concat(got), bytes.subarray(0, half)))
        assert.isFalse(yield* b.has(hash))
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(reader)
        assert.isTrue(equalBytes(Buffer.concat(got), bytes))
        assert.isTrue(yield* b.has(hash))

        // Held here: read as it is, without running the fetch given.
        const again = yield* Stream.mkUint8Array(
          b.readWhileFetching(hash, Effect.die(new Error("no fetch for a blob held here"))),
        )
        assert.isTrue(equalBytes(again, bytes))

        // A fetch that fails fails the read; nothing becomes visible.
        const failed = yield* Effect.flip(
          Stream.runDrain(
            c.readWhileFetching(
              hash,
              c.fetch({ hash, kind: "blob", sources: [lyingSource("liar")] }),
            ),
          ),
        )
        assert.strictEqual(failed._tag, "AllSourcesFailed")
        assert.isFalse(yield* c.has(hash))
      }),
    timeout,
  )
}
