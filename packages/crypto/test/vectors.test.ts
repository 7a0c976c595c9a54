// Known-answer tests against published vectors; none of these values were computed here.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { decodeHex } from "../src/bytes.ts"
import { hchacha20, open, seal } from "../src/chacha20-poly1305.ts"
import { xchacha20poly1305Encrypt } from "../src/envelope.ts"
import { recordNonces } from "../src/file-stream.ts"
import {
  blake3,
  blake3Stream,
  PublicKey,
  Signature,
  SigningSeed,
  sign,
  signingKeyPairFromSeed,
  toHex,
  verify,
} from "../src/index.ts"
import vectors from "./fixtures/blake3-vectors.json" with { type: "json" }

const hex = (text: string): Uint8Array => {
  const bytes = decodeHex(text.replace(/\s+/g, ""))
  if (bytes === undefined) throw new Error(`bad hex in a test vector: ${text}`)
  return bytes
}

const blake3Input = (length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => i % 251)

describe("BLAKE3 official test vectors (BLAKE3-team/BLAKE3 test_vectors.json)", () => {
  for (const { input_len, hash } of vectors.cases) {
    const expected = hash.slice(0, 64)

    it(`hashes ${input_len} bytes in one call`, () => {
      assert.strictEqual(toHex(blake3(blake3Input(input_len))), expected)
    })

    it.effect(`hashes ${input_len} bytes fed as a stream of uneven chunks`, () =>
      Effect.gen(function* () {
        const input = blake3Input(input_len)
        const pieces: Array<Uint8Array> = []
        // 1, 2, 3, ... byte pieces with an empty one between each: no piece lines up with a BLAKE3 block
        for (let offset = 0, size = 1; offset < input.length; offset += size, size++) {
          pieces.push(input.subarray(offset, offset + size), new Uint8Array(0))
        }
        const digest = yield* blake3Stream(Stream.fromIterable(pieces))
        assert.strictEqual(toHex(digest), expected)
      }),
    )
  }
})

const sunscreen = new TextEncoder().encode(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
)
const aeadKey = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
const aeadAd = hex("50515253c0c1c2c3c4c5c6c7")
const xchachaCiphertext =
  "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb" +
  "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452" +
  "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9" +
  "21f9664c97637da9768812f615c68b13b52e"
const xchachaTag = "c0875924c1c7987947deafd8780acf49"

describe("HChaCha20 (draft-irtf-cfrg-xchacha-03, 2.2.1)", () => {
  it("derives the draft's subkey", () => {
    const key = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
    const input = hex("000000090000004a0000000031415927")
    assert.strictEqual(
      toHex(hchacha20(key, input)),
      "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc",
    )
  })
})

describe("AEAD_CHACHA20_POLY1305 (RFC 8439, 2.8.2) in node:crypto", () => {
  const nonce = hex("070000004041424344454647")
  const ciphertext =
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6" +
    "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36" +
    "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc" +
    "3ff4def08e4b7a9de576d26586cec64b6116"
  const tag = "1ae10b594f09e26a7e902ecbd0600691"

  it("seals the RFC's plaintext to its ciphertext and tag", () => {
    const sealed = seal(aeadKey, nonce, sunscreen, aeadAd)
    assert.strictEqual(toHex(sealed.ciphertext), ciphertext)
    assert.strictEqual(toHex(sealed.tag), tag)
  })

  it("opens it, and refuses it with any other tag or associated data", () => {
    const opened = open(aeadKey, nonce, hex(ciphertext), hex(tag), aeadAd)
    assert.strictEqual(opened === undefined ? "" : toHex(opened), toHex(sunscreen))
    const badTag = hex(tag)
    badTag[0] = (badTag[0] as number) ^ 1
    assert.isUndefined(open(aeadKey, nonce, hex(ciphertext), badTag, aeadAd))
    assert.isUndefined(open(aeadKey, nonce, hex(ciphertext), hex(tag), aeadAd.subarray(1)))
  })
})

describe("AEAD_XChaCha20_Poly1305 (draft A.3.1) through the v2 file construction", () => {
  it("record 0 of a longer file, sealed natively under HChaCha20's subkey, is the draft's output", () => {
    const n = hex("404142434445464748494a4b4c4d4e4f5051525354555657")
    const subkey = hchacha20(aeadKey, n.subarray(0, 16))
    const sealed = seal(subkey, recordNonces(n)(0, false), sunscreen, aeadAd)
    assert.strictEqual(toHex(sealed.ciphertext), xchachaCiphertext)
    assert.strictEqual(toHex(sealed.tag), xchachaTag)
  })
})

describe("AEAD_XChaCha20_Poly1305 (draft-irtf-cfrg-xchacha-03, A.3.1)", () => {
  it("encrypts the draft's plaintext to its ciphertext and tag", () => {
    const plaintext = new TextEncoder().encode(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    )
    assert.strictEqual(
      toHex(plaintext),
      "4c616469657320616e642047656e746c656d656e206f662074686520636c6173" +
        "73206f66202739393a204966204920636f756c64206f6666657220796f75206f" +
        "6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73" +
        "637265656e20776f756c642062652069742e",
    )
    const sealed = xchacha20poly1305Encrypt(
      hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"),
      hex("404142434445464748494a4b4c4d4e4f5051525354555657"),
      plaintext,
      hex("50515253c0c1c2c3c4c5c6c7"),
    )
    assert.strictEqual(
      toHex(sealed),
      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb" +
        "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452" +
        "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9" +
        "21f9664c97637da9768812f615c68b13b52e" +
        "c0875924c1c7987947deafd8780acf49",
    )
  })
})

// RFC 8032 §7.1, TEST 1, TEST 2 and TEST 3.
const ed25519Vectors = [
  {
    name: "TEST 1 (empty message)",
    seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature:
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
      "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    name: "TEST 2 (one byte)",
    seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature:
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da" +
      "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
  {
    name: "TEST 3 (two bytes)",
    seed: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    message: "af82",
    signature:
      "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac" +
      "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
  },
]

describe("Ed25519 (RFC 8032 §7.1)", () => {
  for (const vector of ed25519Vectors) {
    it.effect(`${vector.name}: public key, signature and verification match`, () =>
      Effect.gen(function* () {
        const pair = signingKeyPairFromSeed(yield* SigningSeed.fromHex(vector.seed))
        assert.strictEqual(toHex(pair.publicKey), vector.publicKey)
        const message = hex(vector.message)
        assert.strictEqual(toHex(sign(pair.secretKey, message)), vector.signature)
        yield* verify(
          yield* PublicKey.fromHex(vector.publicKey),
          message,
          yield* Signature.fromHex(vector.signature),
        )
      }),
    )
  }
})
