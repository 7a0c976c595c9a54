import { Effect } from "effect"
import { sodium } from "./sodium.ts"

const HEX = /^(?:[0-9a-f]{2})*$/
const BASE64URL = /^[A-Za-z0-9_-]*$/

/** Lowercase hex. */
export const toHex = (bytes: Uint8Array): string => view(bytes).toString("hex")

/** Unpadded base64url (RFC 4648 §5), the form used in links. */
export const toBase64Url = (bytes: Uint8Array): string => view(bytes).toString("base64url")

const view = (bytes: Uint8Array): Buffer =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)

/**
 * Strict hex decoder: lowercase, even length, nothing else. One spelling per
 * value, so encoded keys and hashes can be compared as strings.
 */
export const decodeHex = (text: string): Uint8Array | undefined =>
  HEX.test(text) ? new Uint8Array(Buffer.from(text, "hex")) : undefined

/**
 * Strict unpadded base64url decoder: rejects padding, other alphabets,
 * whitespace, and non-canonical spellings (unused trailing bits set).
 */
export const decodeBase64Url = (text: string): Uint8Array | undefined => {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined
  const bytes = Buffer.from(text, "base64url")
  return bytes.toString("base64url") === text ? new Uint8Array(bytes) : undefined
}

/** Equality in time independent of where the arrays differ (lengths are not secret). */
export const constantTimeEqual = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && (a.length === 0 || sodium.memcmp(a, b))

/** `length` bytes from libsodium's CSPRNG. */
export const randomBytes = (length: number): Effect.Effect<Uint8Array> =>
  Effect.sync(() => sodium.randombytes_buf(length))

export const concatBytes = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => concatAll(parts)

export const concatAll = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

export const startsWith = (bytes: Uint8Array, prefix: Uint8Array): boolean => {
  if (bytes.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false
  return true
}
