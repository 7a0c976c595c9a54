// The wire format of blob transfer over tunnels (`save-dweb/blobs/1`). One tunnel call per
// request: the caller's input is one JSON request; the handler answers a length-prefixed
// JSON header, then (for `Found`) exactly `length` bytes of the blob. `GetMany` is
// answered by one such header (and body) per hash, in the order asked.
import { Result, Schema } from "effect"
import { BlobHash } from "./hash.ts"

/** The protocol name a store serves its blobs on, unless told otherwise. */
export const BLOBS_PROTOCOL = "save-dweb/blobs/1"

/** Hashes one `Has` query may ask about (its JSON is about 68 KiB). */
export const MAX_HAS_HASHES = 1024

/** Larger requests are refused unread: the largest valid one is a full `Has`. */
export const MAX_REQUEST_BYTES = 128 * 1024

/** Bytes of the u32 length in front of a response header. */
export const HEADER_PREFIX_BYTES = 4

/** Larger headers are a broken peer: the largest valid one is a full `Have`. */
export const MAX_HEADER_BYTES = 128 * 1024

/** Hashes one `GetMany` may ask for. */
export const MAX_BATCH_HASHES = 64

/** A blob larger than this is not sent in a `GetMany` (`TooLarge`): one `Get` per such blob. */
export const MAX_BATCH_BLOB_BYTES = 1024 * 1024

/** Bytes of blobs one `GetMany` answers at most; the blobs past it are `TooLarge`. */
export const MAX_BATCH_BYTES = 8 * 1024 * 1024

const Count = Schema.Number.pipe(Schema.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0)))

const Hashes = Schema.Array(BlobHash).pipe(Schema.check(Schema.isMaxLength(MAX_HAS_HASHES)))

const BatchHashes = Schema.Array(BlobHash).pipe(
  Schema.check(Schema.isMinLength(1), Schema.isMaxLength(MAX_BATCH_HASHES)),
)

/**
 * `Get`: a blob's bytes, or a range of them. `Has`: which of these hashes the peer holds.
 * `GetMany`: several whole small blobs in one call (a provider that predates it answers
 * `BadRequest`).
 */
export const BlobRequest = Schema.Union([
  Schema.TaggedStruct("Get", {
    hash: BlobHash,
    offset: Schema.optionalKey(Count),
    length: Schema.optionalKey(Count),
  }),
  Schema.TaggedStruct("Has", { hashes: Hashes }),
  Schema.TaggedStruct("GetMany", { hashes: BatchHashes }),
])
export type BlobRequest = typeof BlobRequest.Type

/**
 * `Found` is followed by `length` bytes starting at `offset` of a blob of `size` bytes.
 * `NotFound` is also the answer for a blob the caller may not have (`allow`), so a refusal
 * does not tell whether the peer holds it. `Have` answers `Has` (a subset of the hashes).
 * `TooLarge` answers a hash of a `GetMany` whose blob is over `MAX_BATCH_BLOB_BYTES` or
 * would take the call past `MAX_BATCH_BYTES` (ask for it again, alone or in another batch).
 */
export const BlobResponse = Schema.Union([
  Schema.TaggedStruct("Found", { size: Count, offset: Count, length: Count }),
  Schema.TaggedStruct("NotFound", { hash: BlobHash }),
  Schema.TaggedStruct("InvalidRange", { size: Count }),
  Schema.TaggedStruct("Have", { hashes: Hashes }),
  Schema.TaggedStruct("TooLarge", { hash: BlobHash, size: Count }),
  Schema.TaggedStruct("BadRequest", { reason: Schema.String }),
])
export type BlobResponse = typeof BlobResponse.Type

const RequestJson = Schema.fromJsonString(BlobRequest)
const ResponseJson = Schema.fromJsonString(BlobResponse)
const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder("utf-8", { fatal: true })

const decodeText = (bytes: Uint8Array): Result.Result<string, string> => {
  try {
    return Result.succeed(utf8Strict.decode(bytes))
  } catch {
    return Result.fail("not UTF-8")
  }
}

export const encodeRequest = (request: BlobRequest): Uint8Array =>
  utf8.encode(Schema.encodeSync(RequestJson)(request))

/** Total: any bytes give a request or the reason they are not one. */
export const decodeRequest = (bytes: Uint8Array): Result.Result<BlobRequest, string> =>
  Result.flatMap(decodeText(bytes), (text) =>
    Result.mapError(Schema.decodeUnknownResult(RequestJson)(text), (e) => e.message),
  )

/** The header as it goes on the wire: u32 big-endian length, then its JSON. */
export const encodeResponse = (response: BlobResponse): Uint8Array => {
  const json = utf8.encode(Schema.encodeSync(ResponseJson)(response))
  const out = new Uint8Array(HEADER_PREFIX_BYTES + json.length)
  new DataView(out.buffer).setUint32(0, json.length)
  out.set(json, HEADER_PREFIX_BYTES)
  return out
}

/** The header's JSON (without its length prefix). */
export const decodeResponse = (bytes: Uint8Array): Result.Result<BlobResponse, string> =>
  Result.flatMap(decodeText(bytes), (text) =>
    Result.mapError(Schema.decodeUnknownResult(ResponseJson)(text), (e) => e.message),
  )
