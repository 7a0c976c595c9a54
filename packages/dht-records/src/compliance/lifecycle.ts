// A record's life: found once written, reopened by its owner, inspected, deleted here.
import { assert } from "@effect/vitest"
import { Effect, Option } from "effect"
import {
  type ComplianceIt,
  Doc,
  failureOf,
  newDoc,
  newKey,
  Participants,
  type Suite,
  unknownKey,
  valueIn,
} from "./support.ts"

export const lifecycleTests = (it: ComplianceIt, { timeout }: Suite) => {
  it.effect(
    "a record no one created is not found",
    () =>
      Effect.gen(function* () {
        const { b } = yield* Participants
        const error = yield* failureOf(b.open(Doc, unknownKey(), { encryptionKey: yield* newKey }))
        assert.strictEqual(error._tag, "RecordNotFound")
      }),
    timeout,
  )

  it.effect(
    "a record is found by others once a value is written",
    () =>
      Effect.gen(function* () {
        // veilid-core creates a record locally; its first value takes it to the network.
        const { b, encryptionKey, record } = yield* newDoc(2)
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
        assert.deepStrictEqual(valueIn(yield* opened.get(0, { refresh: true })), Option.some("two"))
      }),
    timeout,
  )

  it.effect(
    "inspect reports the sequence numbers held here and on the network",
    () =>
      Effect.gen(function* () {
        const { b, encryptionKey, record } = yield* newDoc(3)
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
        const { a, b, encryptionKey, record } = yield* newDoc(1)
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
}
