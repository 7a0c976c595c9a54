// The passphrase key: Argon2id from node:crypto, checked against libsodium's own
// crypto_pwhash (the sumo build, here only) so the parameters mean what they say.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import sodiumSumo from "libsodium-wrappers-sumo"
import { derivePassphraseKey, newPassphraseKdf, PassphraseKdf } from "../src/index.ts"

const utf8 = new TextEncoder()
const pass = (text: string) => Redacted.make(utf8.encode(text))
// Small enough for a unit test; libsodium's Argon2id has one lane only.
const light = {
  ...Effect.runSync(newPassphraseKdf),
  memoryKiB: 8 * 1024,
  passes: 2,
  parallelism: 1,
}

describe("passphrase key", () => {
  it.effect("is libsodium's crypto_pwhash Argon2id for the same parameters", () =>
    Effect.gen(function* () {
      yield* Effect.promise(() => sodiumSumo.ready)
      const key = yield* derivePassphraseKey(pass("correct horse"), light)
      const expected = sodiumSumo.crypto_pwhash(
        32,
        utf8.encode("correct horse"),
        light.salt,
        light.passes,
        light.memoryKiB * 1024,
        sodiumSumo.crypto_pwhash_ALG_ARGON2ID13,
      )
      assert.deepStrictEqual(Redacted.value(key), expected)
    }),
  )

  it.effect("another passphrase or another salt gives another key", () =>
    Effect.gen(function* () {
      const key = Redacted.value(yield* derivePassphraseKey(pass("correct horse"), light))
      const other = Redacted.value(yield* derivePassphraseKey(pass("correct horsf"), light))
      const salted = Redacted.value(
        yield* derivePassphraseKey(pass("correct horse"), {
          ...light,
          salt: (yield* newPassphraseKdf).salt,
        }),
      )
      assert.notDeepEqual(key, other)
      assert.notDeepEqual(key, salted)
    }),
  )

  it("stored parameters round-trip, and trivial or huge ones are refused", () => {
    const kdf = Effect.runSync(newPassphraseKdf)
    assert.strictEqual(kdf.salt.length, 16)
    const codec = Schema.fromJsonString(PassphraseKdf)
    assert.deepStrictEqual(Schema.decodeSync(codec)(Schema.encodeSync(codec)(kdf)), kdf)
    for (const bad of [
      { memoryKiB: 64 },
      { passes: 0 },
      { memoryKiB: 2 ** 23 },
      { parallelism: 0 },
    ])
      assert.isFalse(Schema.is(PassphraseKdf)({ ...kdf, ...bad }), JSON.stringify(bad))
  })
})
