import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto"
import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  decodeTypedKey,
  encodeTypedKey,
  generateNodeKeyPair,
  publicKeyOf,
  VLD0_KEY_LENGTH,
} from "../src/keys.ts"

const VLD0_KEY = /^VLD0:[A-Za-z0-9_-]{43}$/

describe("node keys", () => {
  it("are VLD0 keys: 32 bytes each, base64url without padding", () => {
    const { publicKey, secretKey } = generateNodeKeyPair()
    expect(publicKey).toMatch(VLD0_KEY)
    expect(secretKey).toMatch(VLD0_KEY)
    for (const key of [publicKey, secretKey]) {
      const decoded = Result.getOrThrow(decodeTypedKey(key))
      expect(decoded.kind).toBe("VLD0")
      expect(decoded.bytes).toHaveLength(VLD0_KEY_LENGTH)
    }
  })

  it("pair up: the secret key is the Ed25519 seed of the public key", () => {
    const pair = generateNodeKeyPair()
    expect(Result.getOrThrow(publicKeyOf(pair.secretKey))).toBe(pair.publicKey)
    // What veilid-core checks at start (validate_keypair): a signature verifies.
    const seed = Result.getOrThrow(decodeTypedKey(pair.secretKey)).bytes
    const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed])
    const privateKey = createPrivateKey({ key: der, format: "der", type: "pkcs8" })
    const data = Buffer.from("veilid")
    const signature = sign(null, data, privateKey)
    const x = pair.publicKey.slice(5)
    const publicKey = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" })
    expect(verify(null, data, publicKey, signature)).toBe(true)
  })

  it("match RFC 8032 test vector 1", () => {
    const seed = Buffer.from(
      "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
      "hex",
    )
    const publicKey = Buffer.from(
      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
      "hex",
    )
    expect(Result.getOrThrow(publicKeyOf(encodeTypedKey("VLD0", seed)))).toBe(
      encodeTypedKey("VLD0", publicKey),
    )
    expect(encodeTypedKey("VLD0", publicKey)).toBe(
      "VLD0:11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    )
  })

  it("differ every time", () => {
    const keys = new Set(Array.from({ length: 20 }, () => generateNodeKeyPair().publicKey))
    expect(keys.size).toBe(20)
  })

  it("encode and decode any 32 bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const decoded = Result.getOrThrow(decodeTypedKey(encodeTypedKey("VLD0", bytes)))
        expect(decoded.bytes).toEqual(bytes)
      }),
    )
  })

  it("reject what veilid would not parse", () => {
    const good = generateNodeKeyPair().publicKey
    for (const bad of [
      good.slice(5),
      `VLD0:${good.slice(5, -1)}`,
      `VLD0:${good.slice(5)}=`,
      `VLD0:${good.slice(5).replace(/./, "+")}`,
      "VLD0:",
      "VLD0",
    ]) {
      expect(Result.isFailure(decodeTypedKey(bad))).toBe(true)
    }
  })
})
