// Several small blobs from one tunnel source in one call (`GetMany`): one opening, its
// proof and its round trips for up to `MAX_BATCH_HASHES` blobs instead of one each. The
// answer is read blob by blob; each blob's bytes stream into the store's own verified
// landing (hash, temp file), so a batch never sits in memory whole.
import { Cause, Effect, Pull, type Scope, Stream } from "effect"
import { SourceError, type SourceFailure, type StoreError, UnexpectedSize } from "./errors.ts"
import type { BlobHash } from "./hash.ts"
import type { TunnelSource } from "./source.ts"
import {
  type BlobResponse,
  encodeRequest,
  MAX_BATCH_BLOB_BYTES,
  MAX_BATCH_BYTES,
} from "./tunnel-protocol.ts"
import { callFailure, HeaderReader } from "./tunnel-source.ts"

/**
 * A store's verified landing of one blob from a stream of its bytes (exactly
 * `expectedSize` of them when given): hashed as they come, visible only if the digest is
 * `hash`.
 */
export type LandBytes = (
  hash: BlobHash,
  sourceId: string,
  bytes: Stream.Stream<Uint8Array, SourceFailure>,
  onProgress: (done: number, total: number | undefined) => void,
  expectedSize: number | undefined,
) => Effect.Effect<void, SourceFailure | StoreError>

/** What the fetch engine hears from a batch while it runs. */
export interface BatchEvents {
  /** Verified bytes of `hash` so far (a sign of life in any case), and its size once known. */
  readonly onProgress: (hash: BlobHash, done: number, total: number | undefined) => void
  /** False once another source landed `hash`: its bytes are then read past, not stored. */
  readonly wanted: (hash: BlobHash) => boolean
  /** `hash` is verified and in the store. */
  readonly landed: (hash: BlobHash) => Effect.Effect<void, StoreError>
}

/**
 * `Unsupported`: the provider does not know `GetMany` (it answered `BadRequest`); nothing
 * was fetched. `Answered`: every hash was answered; those not landed were `notFound` (or
 * refused) or `tooLarge` for a batch.
 */
export type BatchOutcome =
  | { readonly _tag: "Unsupported" }
  | {
      readonly _tag: "Answered"
      readonly notFound: ReadonlyArray<BlobHash>
      readonly tooLarge: ReadonlyArray<{ readonly hash: BlobHash; readonly size: number }>
    }

export type FetchBatch = (
  source: TunnelSource,
  hashes: ReadonlyArray<BlobHash>,
  events: BatchEvents,
) => Effect.Effect<BatchOutcome, SourceFailure | StoreError>

/**
 * Reads a response in pieces: a length-prefixed header, then a body of a given length,
 * then the next header. Chunks are pulled only as the reader's user asks for them.
 */
const responseReader = (
  response: Stream.Stream<Uint8Array, SourceFailure>,
  sourceId: string,
): Effect.Effect<
  {
    /** The next header, or `undefined` if the response ended exactly here. */
    readonly header: Effect.Effect<BlobResponse | undefined, SourceFailure>
    /** The next `length` bytes; fails if the response ends before. */
    readonly body: (length: number) => Stream.Stream<Uint8Array, SourceFailure>
  },
  never,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const pull = yield* Stream.toPull(response)
    const pending: Array<Uint8Array> = []
    const broken = (reason: string) => new SourceError({ source: sourceId, reason })
    /** The next non-empty chunk, or `undefined` at the end of the response. */
    const next: Effect.Effect<Uint8Array | undefined, SourceFailure> = Effect.suspend(() => {
      const held = pending.shift()
      if (held !== undefined) return held.length > 0 ? Effect.succeed(held) : next
      return pull.pipe(
        Effect.flatMap((chunks) => {
          pending.push(...chunks)
          return next
        }),
        Pull.catchDone(() => Effect.succeed(undefined)),
      )
    })

    const header = Effect.gen(function* () {
      const reader = new HeaderReader()
      let started = false
      while (true) {
        const chunk = yield* next
        if (chunk === undefined) {
          if (!started) return undefined
          return yield* broken("ended inside a header")
        }
        started = true
        const read = reader.push(chunk)
        if (read === undefined) continue
        if (typeof read === "string") return yield* broken(read)
        if (read.rest.length > 0) pending.unshift(read.rest)
        return read.header
      }
    })

    const body = (length: number) =>
      Stream.suspend(() => {
        let left = length
        return Stream.fromPull(
          Effect.succeed(
            Effect.suspend((): Effect.Effect<readonly [Uint8Array], SourceFailure | Cause.Done> => {
              if (left === 0) return Cause.done()
              return Effect.flatMap(next, (chunk) => {
                if (chunk === undefined)
                  return Effect.fail(broken(`ended after ${length - left} of ${length} bytes`))
                if (chunk.length > left) pending.unshift(chunk.subarray(left))
                const mine = chunk.length > left ? chunk.subarray(0, left) : chunk
                left -= mine.length
                return Effect.succeed([mine] as const)
              })
            }),
          ),
        )
      })

    return { header, body }
  })

/**
 * One `GetMany` call for `hashes` (at most `MAX_BATCH_HASHES`, as the protocol says), each
 * blob landed by `land` as its bytes arrive. The answer is checked as it comes: one header
 * per hash in order, `NotFound` and `TooLarge` naming that hash, a `Found` for the whole
 * blob, within `MAX_BATCH_BLOB_BYTES` (else `UnexpectedSize`) and the call's
 * `MAX_BATCH_BYTES`, and nothing after the last. A failure ends the call: what landed
 * stays, the rest is the caller's to ask again.
 */
export const tunnelBatch =
  (land: LandBytes): FetchBatch =>
  (source, hashes, events) =>
    Effect.scoped(
      Effect.gen(function* () {
        const broken = (reason: string) => new SourceError({ source: source.id, reason })
        const response = source.peer
          .open(source.protocol, Stream.succeed(encodeRequest({ _tag: "GetMany", hashes })))
          .pipe(Stream.mapError(callFailure(source.id)))
        const reader = yield* responseReader(response, source.id)
        const notFound: Array<BlobHash> = []
        const tooLarge: Array<{ hash: BlobHash; size: number }> = []
        let sent = 0
        for (const [i, hash] of hashes.entries()) {
          const header = yield* reader.header
          if (header === undefined)
            return yield* broken(`ended after ${i} of ${hashes.length} answers to GetMany`)
          if (i === 0 && header._tag === "BadRequest") return { _tag: "Unsupported" } as const
          switch (header._tag) {
            case "Found": {
              if (header.offset !== 0 || header.length !== header.size)
                return yield* broken(
                  `answered a range (${header.offset}+${header.length}) to GetMany`,
                )
              if (header.size > MAX_BATCH_BLOB_BYTES || sent + header.size > MAX_BATCH_BYTES)
                return yield* new UnexpectedSize({
                  source: source.id,
                  hash,
                  announced: header.size,
                  expected: undefined,
                })
              sent += header.size
              events.onProgress(hash, 0, header.size)
              const bytes = reader.body(header.size)
              if (!events.wanted(hash)) {
                yield* Stream.runForEach(bytes, () =>
                  Effect.sync(() => events.onProgress(hash, 0, undefined)),
                )
                break
              }
              yield* land(
                hash,
                source.id,
                bytes,
                (done, total) => events.onProgress(hash, done, total),
                header.size,
              )
              yield* events.landed(hash)
              break
            }
            case "NotFound":
            case "TooLarge":
              if (header.hash !== hash)
                return yield* broken(`answered ${header._tag} for another hash than asked`)
              if (header._tag === "NotFound") notFound.push(hash)
              else tooLarge.push({ hash, size: header.size })
              break
            default:
              return yield* broken(`answered ${header._tag} to GetMany`)
          }
        }
        if ((yield* reader.header) !== undefined)
          return yield* broken("answered more than it was asked in GetMany")
        return { _tag: "Answered", notFound, tooLarge } as const
      }),
    )
