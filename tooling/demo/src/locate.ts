// "Where is file X": a member asks another over its tunnel, the other answers with the
// blob's hash and its Iroh node address. The Iroh address goes only to callers who prove
// the group's tunnel-auth key (the tunnel checks the proof before the handler runs); it
// is never written to the DHT. One JSON request, one JSON reply.
import { BlobHash, type BlobStoreService, type StoreError } from "@save-dweb/blob-store"
import type { SecretKey } from "@save-dweb/crypto"
import {
  type CallError,
  type Peer,
  type ResponseTooLarge,
  requestHandler,
  type TunnelsShape,
} from "@save-dweb/tunnels"
import { Data, Effect, Schema } from "effect"

export const LOCATE_PROTOCOL = "save-dweb/demo-locate/1"

const Count = Schema.Number.pipe(Schema.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0)))

export const LocateRequest = Schema.TaggedStruct("Locate", { file: Schema.String })
export type LocateRequest = typeof LocateRequest.Type

export const LocateResponse = Schema.Union([
  Schema.TaggedStruct("Found", {
    file: Schema.String,
    /** BLAKE3 of the stored (encrypted) bytes: the Iroh blob to fetch. */
    hash: BlobHash,
    size: Count,
    /** The answering member's Iroh node: id and direct addresses. */
    nodeId: Schema.String,
    addresses: Schema.Array(Schema.String),
  }),
  Schema.TaggedStruct("NotFound", { file: Schema.String }),
])
export type LocateResponse = typeof LocateResponse.Type

/** A reply (or request) that is not this protocol's JSON. */
export class LocateProtocolError extends Data.TaggedError("LocateProtocolError")<{
  readonly message: string
}> {}

const RequestJson = Schema.fromJsonString(LocateRequest)
const ResponseJson = Schema.fromJsonString(LocateResponse)
const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder("utf-8", { fatal: true })

const decodeWith =
  <S extends Schema.Codec<unknown, string>>(schema: S, what: string) =>
  (bytes: Uint8Array): Effect.Effect<S["Type"], LocateProtocolError> =>
    Effect.try({
      try: () => utf8Strict.decode(bytes),
      catch: () => new LocateProtocolError({ message: `${what} is not UTF-8` }),
    }).pipe(
      Effect.flatMap((text) => Schema.decodeUnknownEffect(schema)(text)),
      Effect.mapError(
        (error) =>
          new LocateProtocolError({ message: `${what} does not decode: ${error.message}` }),
      ),
    )

export const encodeLocateRequest = (request: LocateRequest): Uint8Array =>
  utf8.encode(Schema.encodeSync(RequestJson)(request))
export const encodeLocateResponse = (response: LocateResponse): Uint8Array =>
  utf8.encode(Schema.encodeSync(ResponseJson)(response))
export const decodeLocateRequest = decodeWith(RequestJson, "locate request")
export const decodeLocateResponse = decodeWith(ResponseJson, "locate reply")

/**
 * Serves the protocol on our tunnel until the scope closes: `files` maps a file name to
 * the hash of its encrypted blob in `store`.
 */
export const serveLocate = (
  tunnels: TunnelsShape,
  store: BlobStoreService,
  files: ReadonlyMap<string, BlobHash>,
  authKey: SecretKey,
) =>
  tunnels.serve(
    LOCATE_PROTOCOL,
    requestHandler(
      (body): Effect.Effect<Uint8Array, LocateProtocolError | StoreError> =>
        Effect.gen(function* () {
          const { file } = yield* decodeLocateRequest(body)
          const hash = files.get(file)
          if (hash === undefined) return encodeLocateResponse({ _tag: "NotFound", file })
          const size = yield* store
            .size(hash)
            .pipe(
              Effect.catchTag("BlobNotFound", (e) =>
                Effect.fail(new LocateProtocolError({ message: e.message })),
              ),
            )
          const source = yield* store.source()
          if (source._tag !== "IrohSource") {
            return yield* new LocateProtocolError({ message: "this store is not an Iroh node" })
          }
          return encodeLocateResponse({
            _tag: "Found",
            file,
            hash,
            size,
            nodeId: source.nodeId,
            addresses: [...source.addresses],
          })
        }),
      { maxRequestBytes: 4096 },
    ),
    { keys: [authKey] },
  )

/** Asks a peer where `file` is. */
export const locate = (
  peer: Peer,
  file: string,
): Effect.Effect<LocateResponse, CallError | ResponseTooLarge | LocateProtocolError> =>
  peer
    .request(LOCATE_PROTOCOL, encodeLocateRequest({ _tag: "Locate", file }), {
      maxResponseBytes: 64 * 1024,
    })
    .pipe(Effect.flatMap(decodeLocateResponse))
