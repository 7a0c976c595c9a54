import { assert, describe, it } from "@effect/vitest"
import { SecretKey } from "@save-dweb/crypto"
import { Effect, Schema } from "effect"
import fc from "fast-check"
import {
  associatedData,
  decodeCbor,
  encodeCbor,
  MAX_SUBKEY_SIZE,
  maxSealedSize,
  opaqueKey,
  openValue,
  sealValue,
} from "../src/codec.ts"

const key = Effect.runSync(SecretKey.generate)
const otherKey = Effect.runSync(SecretKey.generate)
const recordKey =
  "VLD0:C1sZYU6MjsEcCTM4inKPTf9c94qh7BzeUt4W0CrkY-U:7hXS3XX_tbbzPrzR03Z0BrlOO9NAQg5uLq2pQ_c2hRg"
const otherRecord = "VLD0:3RO6Qciyb1U4hSqCJrU4L5TUOIXqKu0Now6U8k0J37k"

const Value = Schema.Struct({
  name: Schema.String,
  count: Schema.Number,
  bytes: Schema.Uint8Array,
  tags: Schema.Array(Schema.String),
  nested: Schema.optionalKey(
    Schema.Struct({ flag: Schema.Boolean, when: Schema.NullOr(Schema.Number) }),
  ),
})

const value = fc.record(
  {
    name: fc.string({ unit: "grapheme" }),
    // CBOR has no -0 integer: cbor-x writes it as 0.
    count: fc.double().map((n) => (Object.is(n, -0) ? 0 : n)),
    bytes: fc.uint8Array({ maxLength: 256 }).map((b) => new Uint8Array(b)),
    tags: fc.array(fc.string(), { maxLength: 8 }),
    nested: fc.record({ flag: fc.boolean(), when: fc.option(fc.integer(), { nil: null }) }),
  },
  { requiredKeys: ["name", "count", "bytes", "tags"] },
)

const context = (subkey: number, limit = MAX_SUBKEY_SIZE) => ({
  key: recordKey,
  subkey,
  encryptionKey: key,
  limit,
})

describe("value codec", () => {
  it("round-trips any value of its Schema through CBOR and the envelope", () => {
    fc.assert(
      fc.property(value, fc.nat({ max: 1023 }), (v, subkey) => {
        const sealed = Effect.runSync(sealValue(Value, v, context(subkey)))
        const opened = Effect.runSync(openValue(Value, sealed, context(subkey))) as typeof v
        assert.deepStrictEqual(opened, v)
        assert.strictEqual(Object.getPrototypeOf(opened.bytes), Uint8Array.prototype)
        // Envelope v1 adds 45 bytes to the CBOR.
        assert.strictEqual(sealed.length, encodeCbor(Schema.encodeSync(Value)(v)).length + 45)
      }),
    )
  })

  it("decodes CBOR it encodes, for any JSON-like value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const normal = JSON.parse(JSON.stringify(v)) as unknown
        // cbor-x renames a "__proto__" map key on decoding (prototype pollution guard).
        fc.pre(!JSON.stringify(normal).includes('"__proto__"'))
        assert.deepStrictEqual(decodeCbor(encodeCbor(normal)), normal)
      }),
    )
  })

  it("a value sealed for one subkey or record does not open in another", () => {
    fc.assert(
      fc.property(fc.nat({ max: 1023 }), fc.nat({ max: 1023 }), (from, to) => {
        fc.pre(from !== to)
        const sealed = Effect.runSync(sealValue(Schema.String, "slot value", context(from)))
        const moved = Effect.runSync(Effect.flip(openValue(Schema.String, sealed, context(to))))
        assert.deepInclude(moved, {
          _tag: "RecordDecryptFailed",
          reason: "WrongKeyOrTampered",
          subkey: to,
        })
        const elsewhere = Effect.runSync(
          Effect.flip(openValue(Schema.String, sealed, { ...context(from), key: otherRecord })),
        )
        assert.deepInclude(elsewhere, { _tag: "RecordDecryptFailed", reason: "WrongKeyOrTampered" })
      }),
    )
  })

  it("binds the record, not the spelling of its key", () => {
    const sealed = Effect.runSync(sealValue(Schema.String, "x", context(3)))
    const opened = Effect.runSync(
      openValue(Schema.String, sealed, { ...context(3), key: opaqueKey(recordKey) }),
    )
    assert.strictEqual(opened, "x")
    assert.deepStrictEqual(associatedData(recordKey, 3), associatedData(opaqueKey(recordKey), 3))
  })

  it("any flipped bit or a wrong key fails with a typed error", () => {
    const sealed = Effect.runSync(sealValue(Schema.String, "hello", context(0)))
    fc.assert(
      fc.property(fc.nat({ max: sealed.length - 1 }), fc.integer({ min: 0, max: 7 }), (i, bit) => {
        const copy = sealed.slice()
        copy[i] = (copy[i] as number) ^ (1 << bit)
        const error = Effect.runSync(Effect.flip(openValue(Schema.String, copy, context(0))))
        assert.strictEqual(error._tag, "RecordDecryptFailed")
        assert.strictEqual(error.reason, i < 5 ? "NotAnEnvelope" : "WrongKeyOrTampered")
      }),
    )
    const wrongKey = Effect.runSync(
      Effect.flip(openValue(Schema.String, sealed, { ...context(0), encryptionKey: otherKey })),
    )
    assert.deepInclude(wrongKey, { _tag: "RecordDecryptFailed", reason: "WrongKeyOrTampered" })
  })

  it.effect("a value of another Schema is Invalid, on write and on read", () =>
    Effect.gen(function* () {
      const write = yield* Effect.flip(sealValue(Schema.Number, "not a number", context(0)))
      assert.deepInclude(write, { _tag: "RecordInvalid", reason: "Schema" })
      const sealed = yield* sealValue(Schema.String, "a string", context(0))
      const read = yield* Effect.flip(openValue(Schema.Number, sealed, context(0)))
      assert.deepInclude(read, { _tag: "RecordInvalid", reason: "Schema", subkey: 0 })
    }),
  )

  it.effect("a sealed value over the record's limit is TooLarge", () =>
    Effect.gen(function* () {
      const limit = maxSealedSize(251)
      const fits = "x".repeat(limit - 45 - 3)
      assert.strictEqual((yield* sealValue(Schema.String, fits, context(1, limit))).length, limit)
      const error = yield* Effect.flip(sealValue(Schema.String, `${fits}x`, context(1, limit)))
      assert.deepInclude(error, { _tag: "RecordTooLarge", size: limit + 1, limit })
    }),
  )

  it("limits a subkey to 32 KiB and a record to 1 MiB (veilid-core)", () => {
    assert.strictEqual(maxSealedSize(1), 32_768)
    assert.strictEqual(maxSealedSize(32), 32_768)
    assert.strictEqual(maxSealedSize(33), 31_775)
    assert.strictEqual(maxSealedSize(251), 4_177)
    assert.strictEqual(maxSealedSize(1024), 1_024)
  })
})
