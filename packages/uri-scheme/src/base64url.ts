// Strict, canonical base64url (RFC 4648 §5) without padding. Written here
// rather than taken from Buffer or Uint8Array.fromBase64 so the package runs on
// any JS runtime and so that exactly one text encodes each byte string: no
// padding, no whitespace, no set bits past the last byte.
import { Result } from "effect"

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

const sextets = (() => {
  const table = new Int8Array(128).fill(-1)
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i
  return table
})()

const sextetAt = (text: string, index: number): number => {
  const code = text.charCodeAt(index)
  return code < 128 ? (sextets[code] ?? -1) : -1
}

export const encodeBase64Url = (bytes: Uint8Array): string => {
  let out = ""
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0)
    out +=
      alphabet.charAt(n >>> 18) +
      alphabet.charAt((n >>> 12) & 63) +
      alphabet.charAt((n >>> 6) & 63) +
      alphabet.charAt(n & 63)
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = (bytes[i] ?? 0) << 16
    out += alphabet.charAt(n >>> 18) + alphabet.charAt((n >>> 12) & 63)
  } else if (rest === 2) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8)
    out +=
      alphabet.charAt(n >>> 18) + alphabet.charAt((n >>> 12) & 63) + alphabet.charAt((n >>> 6) & 63)
  }
  return out
}

/**
 * Decodes canonical unpadded base64url. The failure is a reason for an error
 * message; it names positions, never characters, because the text may be a
 * secret.
 */
export const decodeBase64Url = (text: string): Result.Result<Uint8Array, string> => {
  for (let i = 0; i < text.length; i++) {
    if (sextetAt(text, i) < 0) {
      return Result.fail(
        text[i] === "="
          ? "base64url padding '=' is not allowed"
          : `character ${i + 1} is not base64url (A-Z a-z 0-9 - _)`,
      )
    }
  }
  if (text.length % 4 === 1) {
    return Result.fail(`base64url text of ${text.length} characters is truncated`)
  }
  const bytes = new Uint8Array(Math.floor((text.length * 3) / 4))
  let acc = 0
  let bits = 0
  let at = 0
  for (let i = 0; i < text.length; i++) {
    acc = ((acc << 6) | sextetAt(text, i)) & 0xffffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      bytes[at++] = (acc >>> bits) & 0xff
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) {
    return Result.fail("non-canonical base64url (the last character has unused bits set)")
  }
  return Result.succeed(bytes)
}
