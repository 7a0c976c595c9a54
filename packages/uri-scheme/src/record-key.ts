// A Veilid DHT record key as text: `KIND:<base64url of 32 bytes>`, e.g.
// `VLD0:...`. Veilid 0.5 record keys may carry a second `:<32 bytes>` part
// (the record's encryption key). The kind must be one this version can open:
// a link with another kind is refused here, naming it, rather than failing
// deep in the DHT layer as an unexpected error.
import { Result, Schema } from "effect"
import { decodeBase64Url, encodeBase64Url } from "./base64url.ts"

export const RECORD_KEY_PART_BYTES = 32

/**
 * The crypto kinds of the record keys this version can use: veilid-core 0.5.8 builds
 * `VLD0` only. A newer kind means a link made by a newer save-dweb on a newer Veilid.
 */
export const SUPPORTED_CRYPTO_KINDS: ReadonlyArray<string> = ["VLD0"]

const kindPattern = /^[A-Z0-9]{4}$/

const kindProblem = (kind: string | undefined): string | undefined => {
  if (kind === undefined || !kindPattern.test(kind)) {
    return "the crypto kind must be 4 characters A-Z 0-9"
  }
  return SUPPORTED_CRYPTO_KINDS.includes(kind)
    ? undefined
    : `crypto kind ${kind} is not supported by this version (it knows ${SUPPORTED_CRYPTO_KINDS.join(", ")}): the link may come from a newer save-dweb`
}

const shape = "expected KIND:<43 base64url characters>, optionally followed by :<43 more>"

/** Why `text` is not a record key, or `undefined` when it is one. */
export const checkRecordKey = (text: string): string | undefined => {
  const parts = text.split(":")
  if (parts.length < 2 || parts.length > 3) return shape
  const [kind, ...keys] = parts
  const badKind = kindProblem(kind)
  if (badKind !== undefined) return badKind
  for (const [index, key] of keys.entries()) {
    const label = index === 0 ? "key" : "second key"
    const decoded = decodeBase64Url(key)
    if (Result.isFailure(decoded)) return `${label}: ${decoded.failure}`
    if (decoded.success.length !== RECORD_KEY_PART_BYTES) {
      return `${label}: expected ${RECORD_KEY_PART_BYTES} bytes, got ${decoded.success.length}`
    }
  }
  return undefined
}

export const RecordKey = Schema.String.check(
  Schema.makeFilter((text: string) => checkRecordKey(text), {
    expected: "a Veilid record key (KIND:<base64url 32 bytes>[:<base64url 32 bytes>])",
  }),
)

/** Binary form used inside pairing data: 4 ASCII kind bytes, then 32 or 64 key bytes. */
export const recordKeyToBytes = (key: string): Uint8Array => {
  const [kind = "", ...keys] = key.split(":")
  const out = new Uint8Array(4 + RECORD_KEY_PART_BYTES * keys.length)
  for (let i = 0; i < 4; i++) out[i] = kind.charCodeAt(i)
  keys.forEach((part, index) => {
    const decoded = decodeBase64Url(part)
    if (Result.isSuccess(decoded)) out.set(decoded.success, 4 + index * RECORD_KEY_PART_BYTES)
  })
  return out
}

export const recordKeyFromBytes = (bytes: Uint8Array): Result.Result<string, string> => {
  if (
    bytes.length !== 4 + RECORD_KEY_PART_BYTES &&
    bytes.length !== 4 + 2 * RECORD_KEY_PART_BYTES
  ) {
    return Result.fail(`expected 36 or 68 bytes, got ${bytes.length}`)
  }
  const kind = String.fromCharCode(...bytes.subarray(0, 4))
  const badKind = kindProblem(kind)
  if (badKind !== undefined) return Result.fail(badKind)
  let text = kind
  for (let at = 4; at < bytes.length; at += RECORD_KEY_PART_BYTES) {
    text += `:${encodeBase64Url(bytes.subarray(at, at + RECORD_KEY_PART_BYTES))}`
  }
  return Result.succeed(text)
}
