// Text values (names) are UTF-8, percent-encoded in one canonical form: the
// RFC 3986 unreserved characters stay literal, every other byte is %XX with
// upper-case hex. Requiring that form keeps one link text per value.
import { Result } from "effect"

const isUnreserved = (byte: number): boolean =>
  (byte >= 0x41 && byte <= 0x5a) || // A-Z
  (byte >= 0x61 && byte <= 0x7a) || // a-z
  (byte >= 0x30 && byte <= 0x39) || // 0-9
  byte === 0x2d || // -
  byte === 0x2e || // .
  byte === 0x5f || // _
  byte === 0x7e // ~

const hexDigits = "0123456789ABCDEF"

const hexValue = (code: number): number =>
  code >= 0x30 && code <= 0x39 ? code - 0x30 : code >= 0x41 && code <= 0x46 ? code - 0x37 : -1

const utf8 = new TextEncoder()
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/** Canonical percent-encoding of a well-formed string. */
export const encodeText = (text: string): string => {
  let out = ""
  for (const byte of utf8.encode(text)) {
    out += isUnreserved(byte)
      ? String.fromCharCode(byte)
      : `%${hexDigits[byte >>> 4]}${hexDigits[byte & 15]}`
  }
  return out
}

/** Decodes canonical percent-encoded UTF-8; anything else is a reason to refuse. */
export const decodeText = (raw: string): Result.Result<string, string> => {
  const bytes = new Uint8Array(raw.length)
  let at = 0
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i)
    if (code === 0x25) {
      const high = hexValue(raw.charCodeAt(i + 1))
      const low = hexValue(raw.charCodeAt(i + 2))
      if (high < 0 || low < 0) {
        return Result.fail(`character ${i + 1}: '%' must be followed by two upper-case hex digits`)
      }
      const byte = (high << 4) | low
      if (isUnreserved(byte)) {
        return Result.fail(
          `character ${i + 1}: ${raw.slice(i, i + 3)} must be written as the character it encodes`,
        )
      }
      bytes[at++] = byte
      i += 2
    } else if (code < 128 && isUnreserved(code)) {
      bytes[at++] = code
    } else {
      return Result.fail(`character ${i + 1} must be percent-encoded`)
    }
  }
  try {
    return Result.succeed(strictUtf8.decode(bytes.subarray(0, at)))
  } catch {
    return Result.fail("not valid UTF-8")
  }
}
