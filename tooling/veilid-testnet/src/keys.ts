// Node identity keys, made before the nodes start so the bootstrap zone can
// name them. VLD0 keys are Ed25519: the public key is the 32-byte point, the
// secret key the 32-byte seed (ed25519-dalek `SigningKey::to_bytes`), both
// written "VLD0:" + base64url without padding (veilid-core crypto/types).
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto"
import { Data, Result } from "effect"

export const CRYPTO_KIND_VLD0 = "VLD0"
export const VLD0_KEY_LENGTH = 32

export interface NodeKeyPair {
  readonly publicKey: string
  readonly secretKey: string
}

export class KeyDecodeError extends Data.TaggedError("KeyDecodeError")<{
  readonly input: string
  readonly reason: string
}> {}

const BASE64URL = /^[A-Za-z0-9_-]*$/

export const encodeTypedKey = (kind: string, bytes: Uint8Array): string =>
  `${kind}:${Buffer.from(bytes).toString("base64url")}`

/** Parses "KIND:<base64url-nopad>"; `length` checks the decoded size. */
export const decodeTypedKey = (
  input: string,
  length: number = VLD0_KEY_LENGTH,
): Result.Result<{ readonly kind: string; readonly bytes: Uint8Array }, KeyDecodeError> => {
  const fail = (reason: string) => Result.fail(new KeyDecodeError({ input, reason }))
  if (input.length < 6 || input[4] !== ":") return fail("expected KIND:<base64url>")
  const kind = input.slice(0, 4)
  const text = input.slice(5)
  // Base64 without padding never has a length of 1 mod 4.
  if (!BASE64URL.test(text) || text.length % 4 === 1) return fail("not base64url without padding")
  const bytes = new Uint8Array(Buffer.from(text, "base64url"))
  if (Buffer.from(bytes).toString("base64url") !== text) return fail("not canonical base64url")
  if (bytes.length !== length) return fail(`expected ${length} bytes, got ${bytes.length}`)
  return Result.succeed({ kind, bytes })
}

export const generateNodeKeyPair = (): NodeKeyPair => {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519")
  const jwk = privateKey.export({ format: "jwk" })
  const x = publicKey.export({ format: "jwk" }).x
  if (jwk.d === undefined || x === undefined) throw new Error("node:crypto gave no raw Ed25519 key")
  return { publicKey: `${CRYPTO_KIND_VLD0}:${x}`, secretKey: `${CRYPTO_KIND_VLD0}:${jwk.d}` }
}

/** The public key that belongs to a VLD0 secret key (seed), or a decode error. */
export const publicKeyOf = (secretKey: string): Result.Result<string, KeyDecodeError> =>
  Result.map(decodeTypedKey(secretKey), ({ kind, bytes }) => {
    // An Ed25519 PKCS#8 document is a fixed 16-byte prefix and the seed (RFC 8410).
    const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), bytes])
    const x = createPublicKey(
      createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }),
    ).export({
      format: "jwk",
    }).x
    return `${kind}:${x ?? ""}`
  })
