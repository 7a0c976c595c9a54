// The behaviour every DhtRecords layer must have, as tests: the memory layer and
// the Veilid layer both run this suite, so the memory one cannot drift.
import { randomBytes } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { SecretKey } from "@save-dweb/crypto"
import { Context, Duration, Effect, Layer, Option, Queue, Schema, type Scope, Stream } from "effect"
import { defineRecord } from "./definition.ts"
import type { DhtRecordsError } from "./errors.ts"
import { type DhtRecordsShape, memberSubkeys, publicKeyOf } from "./records.ts"
import type { WatchEvent } from "./types.ts"

export interface ComplianceParticipants {
  /** Two participants on the same DHT, as two members on two nodes. */
  readonly a: DhtRecordsShape
  readonly b: DhtRecordsShape
}

export interface ComplianceOptions {
  /** Makes the two participants in the given scope (e.g. two Veilid nodes on a testnet). */
  readonly participants: Effect.Effect<ComplianceParticipants, unknown, Scope.Scope>
  /** Per-test limit in ms (default 120 s). */
  readonly timeout?: number
  /** How long to wait for a watch to report a change (default 60 s). */
  readonly eventDeadline?: Duration.Input
}

class Participants extends Context.Service<Participants, ComplianceParticipants>()(
  "@save-dweb/dht-records/compliance/Participants",
) {}

const Note = Schema.Struct({ text: Schema.String, n: Schema.Number })
const Doc = defineRecord("compliance-doc", { 0: Schema.String, "1..": Note })
const Numbers = defineRecord("compliance-numbers", { "0..": Schema.Number })
const Slots = defineRecord("compliance-slots", { 0: Schema.String, "1..": Schema.String })

const newKey = SecretKey.generate

/** A record key no one created: `VLD0:` and 32 random bytes. */
const unknownKey = () => `VLD0:${randomBytes(32).toString("base64url")}`

const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.result(effect), (result) =>
    result._tag === "Failure"
      ? Effect.succeed(result.failure)
      : Effect.die(new Error(`expected a failure, got ${JSON.stringify(result.success)}`)),
  )

const valueIn = <A>(entry: Option.Option<{ readonly value: A }>) =>
  Option.map(entry, (e) => e.value)

/**
 * Defines the compliance tests (vitest, `@effect/vitest`) under `name`. Call it from a
 * test file of each layer.
 */
export const dhtRecordsCompliance = (name: string, options: ComplianceOptions): void => {
  const timeout = options.timeout ?? 120_000
  const deadline = options.eventDeadline ?? Duration.seconds(60)

  /** The first watch event matching `where`, waited for with the event deadline. */
  const nextEvent = <A>(
    stream: Stream.Stream<WatchEvent<A>, DhtRecordsError>,
    where: (event: WatchEvent<A>) => boolean,
  ) =>
    stream.pipe(
      Stream.filter(where),
      Stream.runHead,
      Effect.flatMap(Effect.fromOption),
      Effect.timeoutOrElse({
        duration: deadline,
        orElse: () =>
          Effect.die(
            new Error(
              `no matching watch event within ${Duration.format(Duration.fromInputUnsafe(deadline))}`,
            ),
          ),
      }),
    )

  /** The next event in `queue` matching `where` (earlier ones are dropped), with the event deadline. */
  const nextFrom = <A>(
    queue: Queue.Queue<WatchEvent<A>>,
    where: (event: WatchEvent<A>) => boolean,
  ) =>
    Effect.gen(function* () {
      while (true) {
        const event = yield* Queue.take(queue)
        if (where(event)) return event
      }
    }).pipe(
      Effect.timeoutOrElse({
        duration: deadline,
        orElse: () =>
          Effect.die(
            new Error(
              `no matching watch event within ${Duration.format(Duration.fromInputUnsafe(deadline))}`,
            ),
          ),
      }),
    )

  const changedTo =
    <A>(subkey: number, value: A) =>
    (event: WatchEvent<unknown>) =>
      event._tag === "Changed" &&
      event.subkey === subkey &&
      JSON.stringify(event.value) === JSON.stringify(value)

  layer(Layer.effect(Participants, options.participants), { excludeTestServices: true })(
    name,
    (it) => {
      it.effect(
        "a value written by one participant is read by another",
        () =>
          Effect.gen(function* () {
            const { a, b } = yield* Participants
            const encryptionKey = yield* newKey
            const record = yield* a.create(Doc, {
              schema: { kind: "DFLT", subkeys: 3 },
              encryptionKey,
            })
            assert.isTrue(Option.isSome(record.ownerKeyPair))
            yield* record.set(0, "hello")
            yield* record.set(1, { text: "note", n: 1.5 })

            const opened = yield* b.open(Doc, record.key, { encryptionKey })
            assert.strictEqual(opened.owner, record.owner)
            assert.deepStrictEqual(opened.layout.subkeyCount, 3)
            const name = yield* opened.get(0, { refresh: true })
            assert.deepStrictEqual(valueIn(name), Option.some("hello"))
            assert.strictEqual(Option.getOrThrow(name).seq, 0)
            assert.strictEqual(Option.getOrThrow(name).writer, record.owner)
            assert.deepStrictEqual(
              valueIn(yield* opened.get(1, { refresh: true })),
              Option.some({ text: "note", n: 1.5 }),
            )
            assert.isTrue(Option.isNone(yield* opened.get(2, { refresh: true })))
          }),
        timeout,
      )

      it.effect(
        "get returns the local copy unless asked to refresh",
        () =>
          Effect.gen(function* () {
            const { a, b } = yield* Participants
            const encryptionKey = yield* newKey
            const record = yield* a.create(Doc, {
              schema: { kind: "DFLT", subkeys: 1 },
              encryptionKey,
            })
            yield* record.set(0, "first")
            const opened = yield* b.open(Doc, record.key, { encryptionKey })
            assert.deepStrictEqual(valueIn(yield* opened.get(0)), Option.some("first"))
            yield* record.set(0, "second")
            assert.deepStrictEqual(valueIn(yield* opened.get(0)), Option.some("first"))
            const fresh = yield* opened.get(0, { refresh: true })
            assert.deepStrictEqual(valueIn(fresh), Option.some("second"))
            assert.strictEqual(Option.getOrThrow(fresh).seq, 1)
          }),
        timeout,
      )

      it.effect(
        "a watcher hears another participant's change",
        () =>
          Effect.gen(function* () {
            const { a, b } = yield* Participants
            const encryptionKey = yield* newKey
            const record = yield* a.create(Doc, {
              schema: { kind: "DFLT", subkeys: 2 },
              encryptionKey,
            })
            yield* record.set(0, "before")
            yield* record.set(1, { text: "marker", n: 0 })
            const opened = yield* b.open(Doc, record.key, { encryptionKey })
            // Subkey 0 is held here, subkey 1 is not: the watch's first reconcile reports
            // only subkey 1, and once it has, the watch is set. With reconciles 10 minutes
            // apart, the change to subkey 0 can then only come through Veilid's watch.
            yield* opened.get(0, { refresh: true })
            const events = yield* Queue.unbounded<WatchEvent<unknown>>()
            yield* opened.watch({ reconcileInterval: "10 minutes" }).pipe(
              Stream.runForEach((event) => Queue.offer(events, event)),
              Effect.forkScoped,
            )
            yield* nextFrom(events, changedTo(1, { text: "marker", n: 0 }))
            yield* record.set(0, "after")
            const event = yield* nextFrom(events, changedTo(0, "after"))
            assert.strictEqual(event._tag, "Changed")
            if (event._tag === "Changed") {
              assert.strictEqual(event.seq, 1)
              assert.strictEqual(event.writer, record.owner)
            }
          }),
        timeout,
      )

      it.effect(
        "a watch reports values newer than the ones held when it starts",
        () =>
          Effect.gen(function* () {
            const { a, b } = yield* Participants
            const encryptionKey = yield* newKey
            const record = yield* a.create(Doc, {
              schema: { kind: "DFLT", subkeys: 2 },
              encryptionKey,
            })
            yield* record.set(1, { text: "written before the watch", n: 7 })
            const opened = yield* b.open(Doc, record.key, { encryptionKey })
            const event = yield* nextEvent(
              opened.watch({ subkeys: [1], pollInterval: "1 second" }),
              changedTo(1, { text: "written before the watch", n: 7 }),
            )
            assert.strictEqual(event.subkey, 1)
          }),
        timeout,
      )

      it.effect(
        "a read-only open cannot write",
        () =>
          Effect.gen(function* () {
            const { a, b } = yield* Participants
            const encryptionKey = yield* newKey
            const record = yield* a.create(Doc, {
              schema: { kind: "DFLT", subkeys: 1 },
              encryptionKey,
            })
            yield* record.set(0, "owner's")
            const opened = yield* b.open(Doc, record.key, { encryptionKey })
            assert.isTrue(Option.isNone(opened.writer))
            assert.isFalse(opened.canWrite(0))
            const error = yield* failureOf(opened.set(0, "intruder's"))
            assert.strictEqual(error._tag, "RecordNotWritable")
            assert.deepStrictEqual(
              valueIn(yield* record.get(0, { refresh: true })),
              Option.some("owner's"),
            )
          }),
        timeout,
      )

      it.effect(
        "in a SMPL record each member writes only its own subkeys",
        () =>
          Effect.gen(function* () {
            const { a, b } = yield* Participants
            const encryptionKey = yield* newKey
            const memberB = yield* b.generateKeyPair
            const memberC = yield* a.generateKeyPair
            const record = yield* a.create(Slots, {
              schema: {
                kind: "SMPL",
                ownerSubkeys: 1,
                members: [
                  { writer: publicKeyOf(memberB), subkeys: 2 },
                  { writer: publicKeyOf(memberC), subkeys: 1 },
                ],
              },
              encryptionKey,
            })
            assert.strictEqual(record.layout.subkeyCount, 4)
            assert.deepStrictEqual(
              record.layout.members.map((m) => m.subkeys),
              memberSubkeys(1, [2, 1]),
            )
            assert.deepStrictEqual(record.writable, [{ start: 0, end: 1 }])
            // The network learns of a record with its first value.
            yield* record.set(0, "group name")

            const asB = yield* b.open(Slots, record.key, { encryptionKey, writer: memberB })
            assert.deepStrictEqual(asB.writable, [{ start: 1, end: 3 }])
            yield* asB.set(1, "b's first")
            yield* asB.set(2, "b's second")
            for (const subkey of [0, 3]) {
              const error = yield* failureOf(asB.set(subkey, "not b's"))
              assert.strictEqual(error._tag, "RecordNotWritable", `subkey ${subkey}`)
            }
            // The owner cannot write a member's subkeys either.
            assert.strictEqual(
              (yield* failureOf(record.set(1, "owner's")))._tag,
              "RecordNotWritable",
            )

            const seen = yield* record.get(1, { refresh: true })
            assert.deepStrictEqual(valueIn(seen), Option.some("b's first"))
            assert.strictEqual(Option.getOrThrow(seen).writer, publicKeyOf(memberB))
            assert.deepStrictEqual(
              valueIn(yield* asB.get(0, { refresh: true })),
              Option.some("group name"),
            )
          }),
        timeout,
      )

      it.effect(
        "a SMPL record takes 250 members of one subkey each, numbered after the owner's",
        () =>
          Effect.gen(function* () {
            const { a, b } = yield* Participants
            const encryptionKey = yield* newKey
            const members = yield* Effect.forEach(
              Array.from({ length: 250 }),
              () => b.generateKeyPair,
            )
            const record = yield* a.create(Slots, {
              schema: {
                kind: "SMPL",
                ownerSubkeys: 1,
                members: members.map((m) => ({ writer: publicKeyOf(m), subkeys: 1 })),
              },
              encryptionKey,
            })
            assert.strictEqual(record.layout.subkeyCount, 251)
            assert.strictEqual(record.layout.maxSealedSize, 4177)
            yield* record.set(0, "a large group")
            const last = members[249] as string
            const asLast = yield* b.open(Slots, record.key, { encryptionKey, writer: last })
            assert.deepStrictEqual(asLast.writable, [{ start: 250, end: 251 }])
            yield* asLast.set(250, "the last member's slot")
            assert.strictEqual(
              (yield* failureOf(asLast.set(249, "not mine")))._tag,
              "RecordNotWritable",
            )
            const seen = yield* record.get(250, { refresh: true })
            assert.deepStrictEqual(valueIn(seen), Option.some("the last member's slot"))
            assert.strictEqual(Option.getOrThrow(seen).writer, publicKeyOf(last))
          }),
        timeout,
      )

      it.effect(
        "a value does not open under another key",
        () =>
          Effect.gen(function* () {
            const { a, b } = yield* Participants
            const record = yield* a.create(Doc, {
              schema: { kind: "DFLT", subkeys: 1 },
              encryptionKey: yield* newKey,
            })
            yield* record.set(0, "secret")
            const opened = yield* b.open(Doc, record.key, { encryptionKey: yield* newKey })
            const error = yield* failureOf(opened.get(0, { refresh: true }))
            assert.strictEqual(error._tag, "RecordDecryptFailed")
            if (error._tag === "RecordDecryptFailed")
              assert.strictEqual(error.reason, "WrongKeyOrTampered")
          }),
        timeout,
      )

      it.effect(
        "the largest value a record takes is accepted and one byte more is refused before sending",
        () =>
          Effect.gen(function* () {
            const { a, b } = yield* Participants
            const encryptionKey = yield* newKey
            // 251 subkeys (a group of 250 members and its name): 1 MiB / 251 = 4177 bytes each.
            const record = yield* a.create(Slots, {
              schema: { kind: "DFLT", subkeys: 251 },
              encryptionKey,
            })
            assert.strictEqual(record.layout.maxSealedSize, 4177)
            // Sealed size = CBOR text (3-byte header for 256..65535 bytes) + 45 envelope bytes.
            const fits = "x".repeat(4177 - 45 - 3)
            yield* record.set(5, fits)
            const error = yield* failureOf(record.set(6, `${fits}x`))
            assert.strictEqual(error._tag, "RecordTooLarge")
            if (error._tag === "RecordTooLarge") {
              assert.strictEqual(error.size, 4178)
              assert.strictEqual(error.limit, 4177)
            }
            const opened = yield* b.open(Slots, record.key, { encryptionKey })
            assert.deepStrictEqual(
              valueIn(yield* opened.get(5, { refresh: true })),
              Option.some(fits),
            )
            assert.isTrue(Option.isNone(yield* opened.get(6, { refresh: true })))

            const small = yield* a.create(Doc, {
              schema: { kind: "DFLT", subkeys: 1 },
              encryptionKey,
            })
            assert.strictEqual(small.layout.maxSealedSize, 32_768)
            const tooLarge = yield* failureOf(small.set(0, "y".repeat(32_768)))
            assert.strictEqual(tooLarge._tag, "RecordTooLarge")
          }),
        timeout,
      )

      it.effect(
        "a stale write fails with a conflict carrying the newer value",
        () =>
          Effect.gen(function* () {
            const { a, b } = yield* Participants
            const encryptionKey = yield* newKey
            const record = yield* a.create(Doc, {
              schema: { kind: "DFLT", subkeys: 1 },
              encryptionKey,
            })
            yield* record.set(0, "v1")
            const owner = Option.getOrThrow(record.ownerKeyPair)
            const other = yield* b.open(Doc, record.key, { encryptionKey, writer: owner })
            assert.deepStrictEqual(
              valueIn(yield* other.get(0, { refresh: true })),
              Option.some("v1"),
            )
            yield* record.set(0, "v2")
            yield* record.set(0, "v3")

            const error = yield* failureOf(other.set(0, "from b"))
            assert.strictEqual(error._tag, "RecordConflict")
            if (error._tag === "RecordConflict") {
              assert.strictEqual(error.current.value, "v3")
              assert.strictEqual(error.current.seq, 2)
              assert.strictEqual(error.subkey, 0)
            }
            // Nothing was overwritten; the conflict updated b's copy, so b can merge and write again.
            assert.deepStrictEqual(
              valueIn(yield* record.get(0, { refresh: true })),
              Option.some("v3"),
            )
            assert.deepStrictEqual(valueIn(yield* other.get(0)), Option.some("v3"))
            yield* other.set(0, "from b, after v3")
            const final = yield* record.get(0, { refresh: true })
            assert.deepStrictEqual(valueIn(final), Option.some("from b, after v3"))
            assert.strictEqual(Option.getOrThrow(final).seq, 3)
          }),
        timeout,
      )

      it.effect(
        "a record no one created is not found",
        () =>
          Effect.gen(function* () {
            const { b } = yield* Participants
            const error = yield* failureOf(
              b.open(Doc, unknownKey(), { encryptionKey: yield* newKey }),
            )
            assert.strictEqual(error._tag, "RecordNotFound")
          }),
        timeout,
      )

      it.effect(
        "a record is found by others once a value is written",
        () =>
          Effect.gen(function* () {
            const { a, b } = yield* Participants
            const encryptionKey = yield* newKey
            // veilid-core creates a record locally; its first value takes it to the network.
            const record = yield* a.create(Doc, {
              schema: { kind: "DFLT", subkeys: 2 },
              encryptionKey,
            })
            const early = yield* failureOf(b.open(Doc, record.key, { encryptionKey }))
            assert.strictEqual(early._tag, "RecordNotFound")
            yield* record.set(1, { text: "published", n: 0 })
            const opened = yield* b.open(Doc, record.key, { encryptionKey })
            assert.deepStrictEqual(
              valueIn(yield* opened.get(1, { refresh: true })),
              Option.some({ text: "published", n: 0 }),
            )
          }),
        timeout,
      )

      it.effect(
        "a value that does not match the subkey's Schema is invalid",
        () =>
          Effect.gen(function* () {
            const { a, b } = yield* Participants
            const encryptionKey = yield* newKey
            const record = yield* a.create(Doc, {
              schema: { kind: "DFLT", subkeys: 2 },
              encryptionKey,
            })
            yield* record.set(0, "a string")
            const asNumbers = yield* b.open(Numbers, record.key, { encryptionKey })
            const read = yield* failureOf(asNumbers.get(0, { refresh: true }))
            assert.strictEqual(read._tag, "RecordInvalid")
            if (read._tag === "RecordInvalid") assert.strictEqual(read.reason, "Schema")

            const wrong = { text: 42 } as unknown as { text: string; n: number }
            const write = yield* failureOf(record.set(1, wrong))
            assert.strictEqual(write._tag, "RecordInvalid")
            assert.isTrue(Option.isNone(yield* record.get(1)))
          }),
        timeout,
      )

      it.effect(
        "the owner reopens its record with its key pair and writes again",
        () =>
          Effect.gen(function* () {
            const { a, b } = yield* Participants
            const encryptionKey = yield* newKey
            const created = yield* Effect.scoped(
              Effect.gen(function* () {
                const record = yield* a.create(Doc, {
                  schema: { kind: "DFLT", subkeys: 1 },
                  encryptionKey,
                })
                yield* record.set(0, "one")
                return { key: record.key, owner: Option.getOrThrow(record.ownerKeyPair) }
              }),
            )
            const reopened = yield* a.open(Doc, created.key, {
              encryptionKey,
              writer: created.owner,
            })
            assert.isTrue(reopened.canWrite(0))
            assert.deepStrictEqual(reopened.ownerKeyPair, Option.some(created.owner))
            yield* reopened.set(0, "two")
            const opened = yield* b.open(Doc, created.key, { encryptionKey })
            assert.deepStrictEqual(
              valueIn(yield* opened.get(0, { refresh: true })),
              Option.some("two"),
            )
          }),
        timeout,
      )

      it.effect(
        "inspect reports the sequence numbers held here and on the network",
        () =>
          Effect.gen(function* () {
            const { a, b } = yield* Participants
            const encryptionKey = yield* newKey
            const record = yield* a.create(Doc, {
              schema: { kind: "DFLT", subkeys: 3 },
              encryptionKey,
            })
            yield* record.set(0, "one")
            yield* record.set(0, "two")
            const local = yield* record.inspect()
            assert.deepStrictEqual(
              local.subkeys.map((s) => [s.subkey, s.local]),
              [
                [0, 1],
                [1, undefined],
                [2, undefined],
              ],
            )
            const opened = yield* b.open(Doc, record.key, { encryptionKey })
            const remote = yield* opened.inspect({ subkeys: [0, 1], scope: "network" })
            assert.deepStrictEqual(
              remote.subkeys.map((s) => [s.subkey, s.local, s.network]),
              [
                [0, undefined, 1],
                [1, undefined, undefined],
              ],
            )
          }),
        timeout,
      )

      it.effect(
        "delete drops this participant's copy; others keep reading the record",
        () =>
          Effect.gen(function* () {
            const { a, b } = yield* Participants
            const encryptionKey = yield* newKey
            const record = yield* a.create(Doc, {
              schema: { kind: "DFLT", subkeys: 1 },
              encryptionKey,
            })
            yield* record.set(0, "kept by the network")
            yield* a.delete(record.key)
            const gone = yield* failureOf(record.get(0))
            assert.strictEqual(gone._tag, "RecordNotFound")
            assert.strictEqual((yield* failureOf(a.delete(record.key)))._tag, "RecordNotFound")

            const opened = yield* b.open(Doc, record.key, { encryptionKey })
            assert.deepStrictEqual(
              valueIn(yield* opened.get(0, { refresh: true })),
              Option.some("kept by the network"),
            )
            const again = yield* a.open(Doc, record.key, { encryptionKey })
            assert.strictEqual((yield* again.inspect()).subkeys[0]?.local, undefined)
            assert.deepStrictEqual(
              valueIn(yield* again.get(0, { refresh: true })),
              Option.some("kept by the network"),
            )
          }),
        timeout,
      )
    },
  )
}
