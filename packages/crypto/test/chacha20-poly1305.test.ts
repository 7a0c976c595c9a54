import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import sodiumSumo from "libsodium-wrappers-sumo"
import { hchacha20, seal } from "../src/chacha20-poly1305.ts"
import { recordNonces } from "../src/file-stream.ts"
import { sodium } from "../src/sodium.ts"
import { bytes, concat, equalBytes } from "./arbitraries.ts"

await sodiumSumo.ready

const fixed = (length: number) => fc.uint8Array({ minLength: length, maxLength: length })

describe("the v2 construction against libsodium", () => {
  it("HChaCha20 agrees with libsodium's crypto_core_hchacha20 (sumo build)", () => {
    fc.assert(
      fc.property(fixed(32), fixed(16), (key, input) => {
        assert.isTrue(
          equalBytes(hchacha20(key, input), sodiumSumo.crypto_core_hchacha20(input, key, null)),
        )
      }),
    )
  })

  it("record 0 (not last) is libsodium's XChaCha20-Poly1305 of the same key, nonce and data", () => {
    fc.assert(
      fc.property(fixed(32), fixed(24), bytes(300), bytes(40), (key, n, plaintext, ad) => {
        const sealed = seal(
          hchacha20(key, n.subarray(0, 16)),
          recordNonces(n)(0, false),
          plaintext,
          ad,
        )
        const expected = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
          plaintext,
          ad,
          null,
          n,
          key,
        )
        assert.isTrue(equalBytes(concat([sealed.ciphertext, sealed.tag]), expected))
      }),
    )
  })

  it("gives every record index and the last flag a distinct nonce", () => {
    fc.assert(
      fc.property(fixed(24), fc.nat({ max: 2 ** 53 - 2 }), (n, index) => {
        const nonceOf = recordNonces(n)
        const seen = new Set<string>()
        for (const i of [0, 1, index, index + 1]) {
          for (const last of [false, true]) seen.add(Buffer.from(nonceOf(i, last)).toString("hex"))
        }
        assert.strictEqual(seen.size, 2 * new Set([0, 1, index, index + 1]).size)
      }),
    )
  })
})
