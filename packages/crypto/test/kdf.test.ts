import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import fc from "fast-check"
import {
  deriveKey,
  deriveSigningSeed,
  GroupSecret,
  KeyName,
  SecretKey,
  SigningSeed,
  toHex,
} from "../src/index.ts"
import { sodium } from "../src/sodium.ts"
import { concat } from "./arbitraries.ts"

const groupSecret = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => Effect.runSync(GroupSecret.fromBytes(b)))

describe("KDF", () => {
  it("derives the same key for the same secret and name", () => {
    fc.assert(
      fc.property(groupSecret, fc.string(), (secret, name) => {
        const copy = Effect.runSync(GroupSecret.fromBytes(Redacted.value(secret)))
        assert.isTrue(SecretKey.equals(deriveKey(secret, name), deriveKey(copy, name)))
      }),
    )
  })

  it("derives different keys for different names", () => {
    fc.assert(
      fc.property(groupSecret, fc.string(), fc.string(), (secret, a, b) => {
        fc.pre(a !== b)
        assert.isFalse(SecretKey.equals(deriveKey(secret, a), deriveKey(secret, b)))
      }),
    )
  })

  it("derives different keys from different secrets", () => {
    fc.assert(
      fc.property(groupSecret, groupSecret, fc.string(), (a, b, name) => {
        fc.pre(!GroupSecret.equals(a, b))
        assert.isFalse(SecretKey.equals(deriveKey(a, name), deriveKey(b, name)))
      }),
    )
  })

  it("keeps signing seeds apart from keys of the same name, and from the parent", () => {
    fc.assert(
      fc.property(groupSecret, fc.string(), (secret, name) => {
        const key = SecretKey.toHex(deriveKey(secret, name))
        const seed = SigningSeed.toHex(deriveSigningSeed(secret, name))
        assert.notStrictEqual(key, seed)
        assert.notStrictEqual(key, GroupSecret.toHex(secret))
        assert.notStrictEqual(seed, GroupSecret.toHex(secret))
      }),
    )
  })

  it.effect("is keyed BLAKE2b-256 over the documented message layout", () =>
    Effect.gen(function* () {
      const secret = yield* GroupSecret.generate
      const name = KeyName.fileContents
      const message = concat([
        new TextEncoder().encode("save-dweb/kdf/v1\0"),
        Uint8Array.of(1),
        new TextEncoder().encode(name),
      ])
      const expected = sodium.crypto_generichash(32, message, Redacted.value(secret))
      assert.strictEqual(SecretKey.toHex(deriveKey(secret, name)), toHex(expected))
    }),
  )

  it.effect("derives subkeys from subkeys", () =>
    Effect.gen(function* () {
      const secret = yield* GroupSecret.generate
      const files = deriveKey(secret, KeyName.fileContents)
      const perFile = deriveKey(files, "some-file")
      assert.isFalse(SecretKey.equals(perFile, deriveKey(secret, "some-file")))
    }),
  )
})
