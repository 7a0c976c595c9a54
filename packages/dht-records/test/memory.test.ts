// Behaviour of the shared code that the compliance suite cannot force on a real
// network: watch fallback and renewal, retries, what a DHT node sees, replays.
import { assert, describe, it } from "@effect/vitest"
import { SecretKey } from "@save-dweb/crypto"
import { VeilidTryAgain } from "@save-dweb/veilid"
import { type Cause, Duration, Effect, Exit, Option, Queue, Schema, Scope, Stream } from "effect"
import {
  type DhtBackend,
  defineRecord,
  MemoryDhtNetwork,
  type MemoryDhtNetworkShape,
  makeDhtRecords,
  makeMemoryDhtRecords,
  type WatchEvent,
  type WatchPolicy,
} from "../src/index.ts"

const Doc = defineRecord("doc", { "0..": Schema.String })
const Numbers = defineRecord("numbers", { "0..": Schema.Number })

const deadline = Duration.seconds(5)

/** Events of `stream`, collected into a queue by a fiber of the test's scope. */
const collect = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<A, E | Cause.Done>()
    yield* stream.pipe(
      Stream.runForEach((a) => Queue.offer(queue, a)),
      Effect.matchCauseEffect({
        onSuccess: () => Queue.end(queue),
        onFailure: (cause) => Queue.failCause(queue, cause),
      }),
      Effect.forkScoped,
    )
    return queue
  })

const next = <A, E>(queue: Queue.Queue<A, E | Cause.Done>, where: (a: A) => boolean) =>
  Effect.gen(function* () {
    while (true) {
      const a = yield* Queue.take(queue)
      if (where(a)) return a
    }
  }).pipe(Effect.timeout(deadline))

const changed = (subkey: number, value: unknown) => (event: WatchEvent<unknown>) =>
  event._tag === "Changed" && event.subkey === subkey && event.value === value

/** A network and two participants on it; `wrap` may change b's backend. */
const setup = (
  policy: WatchPolicy = "accept",
  wrap: (backend: DhtBackend) => DhtBackend = (backend) => backend,
) =>
  Effect.gen(function* () {
    const network: MemoryDhtNetworkShape = yield* MemoryDhtNetwork.make({ watchPolicy: policy })
    const a = yield* makeMemoryDhtRecords(network)
    const b = yield* makeDhtRecords(wrap(yield* network.participant), {
      retry: { initialDelay: "1 millis" },
    })
    const encryptionKey = yield* SecretKey.generate
    const record = yield* a.create(Doc, { schema: { kind: "DFLT", subkeys: 3 }, encryptionKey })
    yield* record.set(0, "v0")
    const opened = yield* b.open(Doc, record.key, { encryptionKey })
    return { network, a, b, record, opened, encryptionKey }
  })

describe("watch", () => {
  for (const policy of ["fail", "silent"] as const) {
    it.live(`falls back to polling when a watch cannot be held (${policy})`, () =>
      Effect.gen(function* () {
        let watchCalls = 0
        const { record, opened } = yield* setup(policy, (backend) => ({
          ...backend,
          dhtWatch: (key, options) =>
            Effect.suspend(() => {
              watchCalls++
              return backend.dhtWatch(key, options)
            }),
        }))
        const events = yield* collect(
          opened.watch({
            pollInterval: "20 millis",
            reconcileInterval: "1 hour",
            rewatchInterval: "1 hour",
          }),
        )
        yield* next(events, changed(0, "v0"))
        for (const value of ["v1", "v2", "v3"]) {
          yield* record.set(0, value)
          yield* next(events, changed(0, value))
        }
        // Polling, with no renewal loop: one attempt (fail), or one renewal of a watch that died at once (silent).
        assert.strictEqual(watchCalls, policy === "fail" ? 1 : 2)
      }),
    )
  }

  it.live("renews a watch that ends, and hears changes through it again", () =>
    Effect.gen(function* () {
      let watchCalls = 0
      const { network, record, opened } = yield* setup("accept", (backend) => ({
        ...backend,
        dhtWatch: (key, options) =>
          Effect.suspend(() => {
            watchCalls++
            return backend.dhtWatch(key, options)
          }),
      }))
      // Hours between polls and reconciles: only the watch can deliver.
      const events = yield* collect(
        opened.watch({ pollInterval: "1 hour", reconcileInterval: "1 hour" }),
      )
      yield* next(events, changed(0, "v0"))
      yield* record.set(0, "v1")
      yield* next(events, changed(0, "v1"))
      // A watch that dies at once is not renewed at once: let this one live first.
      yield* Effect.sleep("50 millis")
      assert.strictEqual(yield* network.expireWatches, 1)
      yield* record.set(1, "after renewal")
      yield* next(events, changed(1, "after renewal"))
      assert.strictEqual(watchCalls, 2)
    }),
  )

  it.live("reports only the subkeys asked, each sequence number once and in order", () =>
    Effect.gen(function* () {
      const { record, opened } = yield* setup()
      const events = yield* collect(opened.watch({ subkeys: [1], pollInterval: "10 millis" }))
      const seen: Array<WatchEvent<unknown>> = []
      for (const value of ["one", "two", "three"]) {
        yield* record.set(0, `not watched: ${value}`)
        yield* record.set(1, value)
      }
      yield* next(events, (e) => {
        seen.push(e)
        return changed(1, "three")(e)
      })
      yield* Effect.sleep("50 millis")
      assert.isTrue(Option.isNone(yield* Queue.poll(events)))
      assert.isTrue(seen.every((e) => e.subkey === 1))
      const seqs = seen.map((e) => e.seq)
      assert.deepStrictEqual(seqs, [...new Set(seqs)].sort())
    }),
  )

  it.live("reports a value it cannot read as Unreadable and goes on", () =>
    Effect.gen(function* () {
      const { b, record, encryptionKey } = yield* setup()
      const asNumbers = yield* b.open(Numbers, record.key, { encryptionKey })
      const events = yield* collect(asNumbers.watch({ pollInterval: "10 millis" }))
      const unreadable = yield* next(events, (e) => e._tag === "Unreadable")
      assert.strictEqual(unreadable._tag === "Unreadable" && unreadable.error._tag, "RecordInvalid")
      yield* record.set(1, "also a string")
      yield* next(events, (e) => e._tag === "Unreadable" && e.subkey === 1)
    }),
  )

  it.live("ends with RecordNotFound when the record is deleted here", () =>
    Effect.gen(function* () {
      const { b, record, opened } = yield* setup()
      const events = yield* collect(opened.watch({ pollInterval: "10 millis" }))
      yield* next(events, changed(0, "v0"))
      yield* b.delete(record.key)
      const error = yield* Effect.flip(next(events, () => false))
      assert.strictEqual(error._tag, "RecordNotFound")
    }),
  )

  it.live("two streams on one record share Veilid's one watch", () =>
    Effect.gen(function* () {
      const { record, opened } = yield* setup()
      const slow = { pollInterval: "1 hour", reconcileInterval: "1 hour" } as const
      const both = yield* collect(opened.watch({ ...slow, subkeys: [0, 1] }))
      yield* Effect.scoped(
        Effect.gen(function* () {
          const only2 = yield* collect(opened.watch({ ...slow, subkeys: [2] }))
          yield* record.set(2, "two")
          yield* next(only2, changed(2, "two"))
        }),
      )
      yield* record.set(1, "one")
      yield* next(both, changed(1, "one"))
    }),
  )
})

describe("records", () => {
  it.effect("a DHT node sees only sealed bytes", () =>
    Effect.gen(function* () {
      const { network, record } = yield* setup()
      const secret = "the plaintext nobody on the DHT may read"
      yield* record.set(1, secret)
      const stored = Option.getOrThrow(yield* network.peek(record.key, 1))
      assert.isFalse(Buffer.from(stored.data).includes(Buffer.from(secret)))
      assert.strictEqual(Buffer.from(stored.data.subarray(0, 4)).toString(), "SDWE")
    }),
  )

  it.effect("a value copied into another subkey does not open", () =>
    Effect.gen(function* () {
      const { network, record, opened } = yield* setup()
      yield* record.set(1, "for subkey 1")
      yield* record.set(2, "for subkey 2")
      const one = Option.getOrThrow(yield* network.peek(record.key, 1))
      yield* network.replace(record.key, 2, one.data)
      const error = yield* Effect.flip(opened.get(2, { refresh: true }))
      assert.deepInclude(error, {
        _tag: "RecordDecryptFailed",
        reason: "WrongKeyOrTampered",
        subkey: 2,
      })
    }),
  )

  it.live("retries what Veilid asks to try again, then gives up with RecordTimeout", () =>
    Effect.gen(function* () {
      let failures = 2
      let calls = 0
      const { opened } = yield* setup("accept", (backend) => ({
        ...backend,
        dhtGet: (key, subkey, options) =>
          Effect.suspend(() => {
            calls++
            return failures-- > 0
              ? Effect.fail(new VeilidTryAgain({ message: "TryAgain: not enough peers" }))
              : backend.dhtGet(key, subkey, options)
          }),
      }))
      const value = yield* opened.get(0, { refresh: true })
      assert.strictEqual(Option.getOrThrow(value).value, "v0")
      assert.strictEqual(calls, 3)

      failures = Number.POSITIVE_INFINITY
      calls = 0
      const error = yield* Effect.flip(opened.get(0, { refresh: true }))
      assert.deepInclude(error, {
        _tag: "RecordTimeout",
        reason: "TryAgain",
        attempts: 7,
        operation: "get",
      })
      assert.strictEqual(calls, 7)
    }),
  )

  it.effect("a record stays open while any handle to it is open", () =>
    Effect.gen(function* () {
      const { b, record, encryptionKey } = yield* setup()
      const kept = yield* b.open(Doc, record.key, { encryptionKey })
      yield* Effect.scoped(b.open(Doc, record.key, { encryptionKey }))
      assert.strictEqual(Option.getOrThrow(yield* kept.get(0)).value, "v0")
    }),
  )

  it.effect("a handle from before a delete does not close a later open", () =>
    Effect.gen(function* () {
      const { b, record, encryptionKey } = yield* setup()
      const before = yield* Scope.make()
      yield* b.open(Doc, record.key, { encryptionKey }).pipe(Scope.provide(before))
      yield* b.delete(record.key)
      const reopened = yield* b.open(Doc, record.key, { encryptionKey })
      yield* Scope.close(before, Exit.void)
      assert.strictEqual(Option.getOrThrow(yield* reopened.get(0, { refresh: true })).value, "v0")
    }),
  )

  it.effect("handles of one record keep their own writers", () =>
    Effect.gen(function* () {
      const { b, record, encryptionKey } = yield* setup()
      const owner = Option.getOrThrow(record.ownerKeyPair)
      const writer = yield* b.open(Doc, record.key, { encryptionKey, writer: owner })
      const reader = yield* b.open(Doc, record.key, { encryptionKey })
      yield* writer.get(0, { refresh: true })
      yield* writer.set(0, "written")
      assert.strictEqual((yield* Effect.flip(reader.set(0, "no")))._tag, "RecordNotWritable")
    }),
  )

  it.effect("refuses schemas Veilid would refuse, before asking it", () =>
    Effect.gen(function* () {
      const { a, encryptionKey } = yield* setup()
      const schemas = [
        { kind: "DFLT", subkeys: 0 },
        { kind: "DFLT", subkeys: 1025 },
        { kind: "SMPL", ownerSubkeys: 0, members: [] },
        {
          kind: "SMPL",
          ownerSubkeys: 1,
          members: Array.from({ length: 257 }, (_, i) => ({ writer: `VLD0:${i}`, subkeys: 1 })),
        },
      ] as const
      for (const schema of schemas) {
        const error = yield* Effect.flip(Effect.scoped(a.create(Doc, { schema, encryptionKey })))
        assert.deepInclude(error, { _tag: "RecordInvalid", reason: "Definition" })
      }
    }),
  )
})
