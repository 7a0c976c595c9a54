// The API's errors. On the wire every one is `{ "error": "<Tag>", "message": "..." }`
// with its HTTP status; in TypeScript each is a tagged class (`_tag` = the wire tag), so
// the typed client's failures can be matched with `Effect.catchTag`.
import { Schema } from "effect"
import { HttpApiSchema } from "effect/http-api"

const fields = { message: Schema.String }

/** A request the server cannot decode: path, query or body not of the documented shape. */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", fields) {}
/** A `save+dweb:` link that does not parse, or whose keys do not open its group. */
export class InvalidLink extends Schema.TaggedError<InvalidLink>()("InvalidLink", fields) {}
/** A file name a repo refuses (empty, too long, a path separator, control characters...). */
export class InvalidFileName extends Schema.TaggedError<InvalidFileName>()(
  "InvalidFileName",
  fields,
) {}
/** A group or member name that is not a display name (1-128 UTF-8 bytes, no controls). */
export class InvalidName extends Schema.TaggedError<InvalidName>()("InvalidName", fields) {}
/** No bearer token, or not the server's. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", fields) {}
/** The capability held does not allow it (a read link cannot write, only a manager invites to write...). */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", fields) {}
/** This backend does not know the group (never created, joined or paired here, or left). */
export class UnknownGroup extends Schema.TaggedError<UnknownGroup>()("UnknownGroup", fields) {}
/** No repo with that key in the group (or, for `mine`, no own repo: read and replicate tiers). */
export class UnknownRepo extends Schema.TaggedError<UnknownRepo>()("UnknownRepo", fields) {}
/** No file of that name in the repo. */
export class FileNotFound extends Schema.TaggedError<FileNotFound>()("FileNotFound", fields) {}
/** No such route. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", fields) {}
/** The state does not allow it now: group already known, group full, a concurrent write won. */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", fields) {}
/** The request body is larger than the server accepts. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()(
  "PayloadTooLarge",
  fields,
) {}
/** A `Range` the file cannot satisfy (starts at or past its end). */
export class RangeNotSatisfiable extends Schema.TaggedError<RangeNotSatisfiable>()(
  "RangeNotSatisfiable",
  fields,
) {}
/** No member or source could be reached for the data (offline, no route, all sources failed). */
export class PeerUnreachable extends Schema.TaggedError<PeerUnreachable>()(
  "PeerUnreachable",
  fields,
) {}
/** A peer's data did not verify or decrypt (damaged or forged). */
export class BadPeerData extends Schema.TaggedError<BadPeerData>()("BadPeerData", fields) {}
/** The node is not ready (Veilid attaching or shutting down, store closed): try again. */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", fields) {}
/** The network did not answer in time (DHT or source timeout). */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", fields) {}
/** The disk is full. */
export class InsufficientStorage extends Schema.TaggedError<InsufficientStorage>()(
  "InsufficientStorage",
  fields,
) {}
/** A bug: never the answer to a user's mistake. */
export class Internal extends Schema.TaggedError<Internal>()("Internal", fields) {}

export type ApiError =
  | BadRequest
  | InvalidLink
  | InvalidFileName
  | InvalidName
  | Unauthorized
  | Forbidden
  | UnknownGroup
  | UnknownRepo
  | FileNotFound
  | NotFound
  | Conflict
  | PayloadTooLarge
  | RangeNotSatisfiable
  | PeerUnreachable
  | BadPeerData
  | Unavailable
  | Timeout
  | InsufficientStorage
  | Internal

type ErrorClass = Schema.Top & { readonly fields: { readonly _tag: Schema.Top } }

/** The class's wire form: `_tag` renamed to `error`, with its HTTP status. */
const wire = <S extends ErrorClass & { readonly fields: { readonly message: Schema.Top } }>(
  self: S,
  status: number,
) => self.pipe(Schema.encodeKeys({ _tag: "error" }), HttpApiSchema.status(status))

/** Every error's wire schema, with its status; each endpoint but `health` declares them all. */
export const errorSchemas = [
  wire(BadRequest, 400),
  wire(InvalidLink, 400),
  wire(InvalidFileName, 400),
  wire(InvalidName, 400),
  wire(Unauthorized, 401),
  wire(Forbidden, 403),
  wire(UnknownGroup, 404),
  wire(UnknownRepo, 404),
  wire(FileNotFound, 404),
  wire(NotFound, 404),
  wire(Conflict, 409),
  wire(PayloadTooLarge, 413),
  wire(RangeNotSatisfiable, 416),
  wire(Internal, 500),
  wire(PeerUnreachable, 502),
  wire(BadPeerData, 502),
  wire(Unavailable, 503),
  wire(Timeout, 504),
  wire(InsufficientStorage, 507),
] as const

/** HTTP status of each error tag. */
export const errorStatus: Readonly<Record<ApiError["_tag"], number>> = {
  BadRequest: 400,
  InvalidLink: 400,
  InvalidFileName: 400,
  InvalidName: 400,
  Unauthorized: 401,
  Forbidden: 403,
  UnknownGroup: 404,
  UnknownRepo: 404,
  FileNotFound: 404,
  NotFound: 404,
  Conflict: 409,
  PayloadTooLarge: 413,
  RangeNotSatisfiable: 416,
  Internal: 500,
  PeerUnreachable: 502,
  BadPeerData: 502,
  Unavailable: 503,
  Timeout: 504,
  InsufficientStorage: 507,
}

const classes = {
  BadRequest,
  InvalidLink,
  InvalidFileName,
  InvalidName,
  Unauthorized,
  Forbidden,
  UnknownGroup,
  UnknownRepo,
  FileNotFound,
  NotFound,
  Conflict,
  PayloadTooLarge,
  RangeNotSatisfiable,
  PeerUnreachable,
  BadPeerData,
  Unavailable,
  Timeout,
  InsufficientStorage,
  Internal,
} as const

/** The error of a tag (for answers built outside the HttpApi: raw routes, the client's raw calls). */
export const apiError = (tag: ApiError["_tag"], message: string): ApiError =>
  new classes[tag]({ message })

/** Whether a string is one of the API's error tags. */
export const isApiErrorTag = (tag: string): tag is ApiError["_tag"] => Object.hasOwn(classes, tag)
