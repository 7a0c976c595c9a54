// Writing a value and reading it from another participant: the local copy, refreshing.
import { assert } from "@effect/vitest"
import { Effect, Option } from "effect"
import { type ComplianceIt, Doc, newDoc, type Suite, valueIn } from "./support.ts"

export const readWriteTests = (it: ComplianceIt, { timeout }: Suite) => {
  it.effect(
    "a value written by one participant is read by another",
    () =>
      Effect.gen(function* () {
        const { b, encryptionKey, record } = yield* newDoc(3)
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
        const { b, encryptionKey, record } = yield* newDoc(1)
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
}
