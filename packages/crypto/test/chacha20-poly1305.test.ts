import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import sodiumSumo from "libsodium-wrappers-sumo"
import { hchacha20, seal } from "../src/chacha20-poly1305.ts"
import { recordNonces } from "../src/file-stream.ts"
import { encryptFile, SecretKey } from "../src/index.ts"
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

describe("file format v2 as the README lays it out, rebuilt with libsodium alone", () => {
  it("header, record lengths and every record match libsodium's XChaCha20-Poly1305 and ChaCha20-Poly1305", () => {
    fc.assert(
      fc.property(
        fixed(32),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 200 }),
        bytes(20),
        (rawKey, size, length, ad) => {
          const key = Effect.runSync(SecretKey.fromBytes(rawKey))
          const plaintext = Uint8Array.from({ length }, (_, i) => (i * 13) & 0xff)
          const file = Effect.runSync(
            encryptFile(key, plaintext, { chunkSize: size, associatedData: ad }),
          )
          const view = new DataView(file.buffer, file.byteOffset, file.length)
          assert.strictEqual(new TextDecoder().decode(file.subarray(0, 4)), "SDWF")
          assert.strictEqual(file[4], 2)
          assert.strictEqual(view.getUint32(5), size)
          const n = file.subarray(9, 33)
          const recordAd = concat([file.subarray(0, 9), ad])
          const subkey = sodiumSumo.crypto_core_hchacha20(n.subarray(0, 16), rawKey, null)
          const records = Math.floor(length / size) + 1
          let offset = 33
          for (let i = 0; i < records; i++) {
            const last = i === records - 1
            const chunk = plaintext.subarray(i * size, last ? length : (i + 1) * size)
            // N with bytes 16..24 XOR u64le(i)
            const ni = n.slice()
            const nv = new DataView(ni.buffer)
            nv.setBigUint64(16, nv.getBigUint64(16, true) ^ BigInt(i), true)
            const expected = last
              ? sodium.crypto_aead_chacha20poly1305_ietf_encrypt(
                  chunk,
                  recordAd,
                  null,
                  concat([Uint8Array.of(1, 0, 0, 0), ni.subarray(16)]),
                  subkey,
                )
              : sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(chunk, recordAd, null, ni, rawKey)
            assert.strictEqual(view.getUint32(offset), expected.length)
            assert.isTrue(
              equalBytes(file.subarray(offset + 4, offset + 4 + expected.length), expected),
            )
            offset += 4 + expected.length
          }
          assert.strictEqual(offset, file.length)
        },
      ),
    )
  })
})
