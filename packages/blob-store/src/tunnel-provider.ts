// The serving half of the tunnel transport: this store's blobs on a tunnel protocol, for
// callers who prove one of the given keys (the group's tunnel-auth keys).
import type { SecretKey } from "@save-dweb/crypto"
import {
  type Handler,
  type IncomingCall,
  type InvalidProtocolName,
  type ProtocolInUse,
  Tunnels,
} from "@save-dweb/tunnels"
import { Effect, Result, type Scope, Stream } from "effect"
import { BlobStore, type BlobStoreService } from "./blob-store.ts"
import type { BlobNotFound, InvalidRange, StoreError } from "./errors.ts"
import type { BlobHash } from "./hash.ts"
import { resolveRange } from "./shared.ts"
import {
  BLOBS_PROTOCOL,
  type BlobRequest,
  type BlobResponse,
  decodeRequest,
  encodeResponse,
  MAX_BATCH_BLOB_BYTES,
  MAX_BATCH_BYTES,
  MAX_REQUEST_BYTES,
} from "./tunnel-protocol.ts"

export interface ServeBlobsOptions {
  /** Keys a caller may prove, e.g. `deriveKey(groupSecret, KeyName.tunnelAuth)` per group. */
  readonly keys: ReadonlyArray<SecretKey>
  /** Default `save-dweb/blobs/1`. */
  readonly protocol?: string
  /**
   * Whether the caller who proved `keys[keyIndex]` may get (or learn that we hold) `hash`.
   * Default: every blob in the store. A refused blob is answered as not found.
   */
  readonly allow?: (hash: BlobHash, keyIndex: number) => Effect.Effect<boolean>
}

const header = (response: BlobResponse) => Stream.succeed(encodeResponse(response))

/** Reads the caller's request, at most `MAX_REQUEST_BYTES` of it. */
const readRequest = (call: IncomingCall): Effect.Effect<Result.Result<BlobRequest, string>> =>
  Effect.gen(function* () {
    const parts: Array<Uint8Array> = []
    let size = 0
    yield* call.input.pipe(
      Stream.takeUntil(() => size > MAX_REQUEST_BYTES),
      Stream.runForEach((chunk) =>
        Effect.sync(() => {
          size += chunk.length
          if (size <= MAX_REQUEST_BYTES) parts.push(chunk)
        }),
      ),
    )
    if (size > MAX_REQUEST_BYTES) return Result.fail(`a request over ${MAX_REQUEST_BYTES} bytes`)
    return decodeRequest(Buffer.concat(parts, size))
  })

/**
 * The tunnel handler for one store: `Get` streams a header then the bytes from `read`;
 * `GetMany` does so for each hash in turn (each blob's size is looked up only when its turn
 * comes, so a call holds one blob's stream at a time); `Has` answers the subset held. A
 * store failure mid-stream reaches the caller as the tunnel's `RemoteError` with the
 * error's tag.
 */
export const blobsHandler =
  (
    store: BlobStoreService,
    allow: ServeBlobsOptions["allow"] = () => Effect.succeed(true),
  ): Handler<BlobNotFound | InvalidRange | StoreError> =>
  (call) =>
    Stream.unwrap(
      Effect.gen(function* () {
        const request = yield* readRequest(call)
        if (Result.isFailure(request))
          return header({ _tag: "BadRequest", reason: request.failure })
        const may = (hash: BlobHash) => allow(hash, call.keyIndex)
        switch (request.success._tag) {
          case "Has": {
            const held: Array<BlobHash> = []
            for (const hash of request.success.hashes)
              if ((yield* may(hash)) && (yield* store.has(hash))) held.push(hash)
            return header({ _tag: "Have", hashes: held })
          }
          case "Get": {
            const { hash, offset, length } = request.success
            const size = (yield* may(hash))
              ? yield* store.size(hash).pipe(Effect.catchTag("BlobNotFound", () => Effect.void))
              : undefined
            if (size === undefined) return header({ _tag: "NotFound", hash })
            const range = { offset: offset ?? 0, ...(length === undefined ? {} : { length }) }
            const bounds = yield* Effect.result(resolveRange(hash, size, range))
            if (Result.isFailure(bounds)) return header({ _tag: "InvalidRange", size })
            const [start, end] = bounds.success
            return Stream.concat(
              header({ _tag: "Found", size, offset: start, length: end - start }),
              store.read(hash, { offset: start, length: end - start }),
            )
          }
          case "GetMany": {
            let sent = 0
            const one = (hash: BlobHash) =>
              Stream.unwrap(
                Effect.gen(function* () {
                  const size = (yield* may(hash))
                    ? yield* store
                        .size(hash)
                        .pipe(Effect.catchTag("BlobNotFound", () => Effect.void))
                    : undefined
                  if (size === undefined) return header({ _tag: "NotFound", hash })
                  if (size > MAX_BATCH_BLOB_BYTES || sent + size > MAX_BATCH_BYTES)
                    return header({ _tag: "TooLarge", hash, size })
                  sent += size
                  return Stream.concat(
                    header({ _tag: "Found", size, offset: 0, length: size }),
                    store.read(hash),
                  )
                }),
              )
            return Stream.fromIterable(request.success.hashes).pipe(Stream.flatMap(one))
          }
        }
      }),
    )

/**
 * Serves the `BlobStore`'s blobs over `Tunnels` until the scope closes. Callers fetch with
 * a `TunnelSource` (`tunnelSource(peer)`), ask with `askHas` / `whoHas`.
 */
export const serveBlobs = (
  options: ServeBlobsOptions,
): Effect.Effect<void, ProtocolInUse | InvalidProtocolName, BlobStore | Tunnels | Scope.Scope> =>
  Effect.gen(function* () {
    const store = yield* BlobStore
    const tunnels = yield* Tunnels
    yield* tunnels.serve(options.protocol ?? BLOBS_PROTOCOL, blobsHandler(store, options.allow), {
      keys: options.keys,
    })
  }).pipe(Effect.withSpan("BlobStore.serveBlobs"))
