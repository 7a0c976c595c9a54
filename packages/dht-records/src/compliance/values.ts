// What a value must be: sealed under the record's key, within the size limit, of the subkey's Schema.
import { assert } from "@effect/vitest"
import { Effect, Option } from "effect"
import {
  type ComplianceIt,
  Doc,
  failureOf,
  Numbers,
  newDoc,
  newKey,
  Participants,
  Slots,
  type Suite,
  valueIn,
} from "./support.ts"

export const valueTests = (it: ComplianceIt, { timeout }: Suite) => {
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
        assert.deepStrictEqual(valueIn(yield* opened.get(5, { refresh: true })), Option.some(fits))
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
    "a value that does not match the subkey's Schema is invalid",
    () =>
      Effect.gen(function* () {
        const { b, encryptionKey, record } = yield* newDoc(2)
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
}
