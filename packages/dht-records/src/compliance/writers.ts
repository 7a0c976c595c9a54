// Who may write which subkeys (read-only opens, SMPL member slots), and stale writes.
import { assert } from "@effect/vitest"
import { Effect, Option } from "effect"
import { memberSubkeys, publicKeyOf } from "../records.ts"
import {
  type ComplianceIt,
  Doc,
  failureOf,
  newDoc,
  newKey,
  Participants,
  Slots,
  type Suite,
  valueIn,
} from "./support.ts"

export const writerTests = (it: ComplianceIt, { timeout }: Suite) => {
  it.effect(
    "a read-only open cannot write",
    () =>
      Effect.gen(function* () {
        const { b, encryptionKey, record } = yield* newDoc(1)
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
        assert.strictEqual((yield* failureOf(record.set(1, "owner's")))._tag, "RecordNotWritable")

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
        const members = yield* Effect.forEach(Array.from({ length: 250 }), () => b.generateKeyPair)
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
    "a stale write fails with a conflict carrying the newer value",
    () =>
      Effect.gen(function* () {
        const { b, encryptionKey, record } = yield* newDoc(1)
        yield* record.set(0, "v1")
        const owner = Option.getOrThrow(record.ownerKeyPair)
        const other = yield* b.open(Doc, record.key, { encryptionKey, writer: owner })
        assert.deepStrictEqual(valueIn(yield* other.get(0, { refresh: true })), Option.some("v1"))
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
        assert.deepStrictEqual(valueIn(yield* record.get(0, { refresh: true })), Option.some("v3"))
        assert.deepStrictEqual(valueIn(yield* other.get(0)), Option.some("v3"))
        yield* other.set(0, "from b, after v3")
        const final = yield* record.get(0, { refresh: true })
        assert.deepStrictEqual(valueIn(final), Option.some("from b, after v3"))
        assert.strictEqual(Option.getOrThrow(final).seq, 3)
      }),
    timeout,
  )
}
