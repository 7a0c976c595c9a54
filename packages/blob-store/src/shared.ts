import * as path from "node:path"
import { Effect, Queue, Stream } from "effect"
import type { BlobStoreService, ByteRange, CollectionChanges, ReadOptions } from "./blob-store.ts"
import { type CollectionEntry, nameProblem } from "./collection.ts"
import {
  type BlobNotFound,
  type FetchError,
  HashMismatch,
  InvalidCollection,
  InvalidRange,
  MAX_BLOB_BYTES,
  type SourceFailure,
  type StoreError,
  UnexpectedSize,
} from "./errors.ts"
import { type BlobHash, makeBlake3 } from "./hash.ts"
import type {
  ByteStreamSource,
  FetchEvent,
  FetchRequest,
  FetchResult,
  TunnelSource,
} from "./source.ts"
import { openTunnelBlob } from "./tunnel-source.ts"

/** Checks a range against a blob's size; returns [start, endExclusive]. */
export const resolveRange = (
  hash: BlobHash,
  size: number,
  range: ByteRange | undefined,
): Effect.Effect<readonly [number, number], InvalidRange> => {
  const offset = range?.offset ?? 0
  const length = range?.length
  const bad =
    !Number.isSafeInteger(offset) ||
    offset < 0 ||
    offset > size ||
    (length !== undefined &&
      (!Number.isSafeInteger(length) || length < 0 || offset + length > size))
  if (bad) return Effect.fail(new InvalidRange({ hash, offset, length, size }))
  return Effect.succeed([offset, length === undefined ? size : offset + length] as const)
}

/** The caller's buffer of `read`'s options, when there is one to read into. */
export const readInto = (options: ReadOptions | undefined): Uint8Array | undefined =>
  options?.into !== undefined && options.into.length > 0 ? options.into : undefined

/** `bytes[start, end)` copied into `into` one piece per pull, as a file is read into it. */
export const bytesInto = (bytes: Uint8Array, start: number, end: number, into: Uint8Array) =>
  Stream.unfold(start, (position) =>
    Effect.sync(() => {
      if (position >= end) return undefined
      const piece = bytes.subarray(position, Math.min(end, position + into.length))
      into.set(piece)
      return [into.subarray(0, piece.length), position + piece.length] as const
    }),
  )

export const applyChanges = (
  entries: ReadonlyArray<CollectionEntry>,
  changes: CollectionChanges,
): ReadonlyArray<CollectionEntry> => {
  const byName = new Map(entries.map((e) => [e.name, e.hash] as const))
  for (const name of changes.remove ?? []) byName.delete(name)
  for (const e of changes.set ?? []) byName.set(e.name, e.hash)
  return [...byName].map(([name, hash]) => ({ name, hash }))
}

/** `updateCollection` in terms of a store's own read, create and delete: one behaviour for every layer. */
export const updateCollectionWith =
  <E1, E2, E3>(store: {
    readonly readCollection: (root: BlobHash) => Effect.Effect<ReadonlyArray<CollectionEntry>, E1>
    readonly createCollection: (
      entries: ReadonlyArray<CollectionEntry>,
    ) => Effect.Effect<BlobHash, E2>
    readonly deleteRoot: (root: BlobHash) => Effect.Effect<unknown, E3>
  }) =>
  (root: BlobHash, changes: CollectionChanges, opts?: { readonly keepOld?: boolean }) =>
    Effect.gen(function* () {
      const entries = yield* store.readCollection(root)
      const next = yield* store.createCollection(applyChanges(entries, changes))
      if (next !== root && opts?.keepOld !== true) yield* store.deleteRoot(root)
      return next
    }).pipe(Effect.withSpan("BlobStore.updateCollection"))

/** `dir/<name>` for each member, refusing names that would leave `dir`. */
export const exportCollectionWith = (
  store: Pick<BlobStoreService, "readCollection" | "exportBlob">,
  root: BlobHash,
  dir: string,
): Effect.Effect<void, BlobNotFound | InvalidCollection | StoreError> =>
  Effect.gen(function* () {
    const entries = yield* store.readCollection(root)
    const base = path.resolve(dir)
    for (const e of entries) {
      const problem = nameProblem(e.name)
      if (problem !== undefined)
        return yield* new InvalidCollection({
          hash: root,
          reason: `${problem}: ${JSON.stringify(e.name)}`,
        })
    }
    yield* Effect.forEach(entries, (e) => store.exportBlob(e.hash, path.join(base, e.name)), {
      concurrency: 4,
      discard: true,
    })
  })

/** The bytes of a whole blob from a source that is not an Iroh node (not yet verified). */
export const sourceBytes = (
  hash: BlobHash,
  source: ByteStreamSource | TunnelSource,
  onProgress: (done: number, total: number | undefined) => void,
  expectedSize: number | undefined,
): Stream.Stream<Uint8Array, SourceFailure> =>
  source._tag === "TunnelSource"
    ? openTunnelBlob(source, hash, (size) => onProgress(0, size), expectedSize)
    : source.open(hash)

/**
 * Pulls a whole blob's bytes (from a byte-stream or tunnel source, or one blob of a tunnel
 * batch) through BLAKE3. `write` sees every chunk (to a temp file, or memory); nothing is
 * added unless the digest is the hash asked for. Progress calls during the stream only
 * show life; the bytes count once verified. A source sending more than `expectedSize` (or
 * `MAX_BLOB_BYTES`) is cut off before the chunk that overflows is written; a tunnel's
 * header is checked before that.
 */
export const receiveVerified = (
  hash: BlobHash,
  sourceId: string,
  bytes: Stream.Stream<Uint8Array, SourceFailure>,
  onProgress: (done: number, total: number | undefined) => void,
  write: (chunk: Uint8Array) => Effect.Effect<void, StoreError>,
  expectedSize: number | undefined,
): Effect.Effect<number, SourceFailure | StoreError> =>
  Effect.gen(function* () {
    const hasher = yield* Effect.promise(() => makeBlake3())
    const limit = expectedSize ?? MAX_BLOB_BYTES
    let received = 0
    const unexpected = (announced: number) =>
      new UnexpectedSize({ source: sourceId, hash, announced, expected: expectedSize })
    yield* bytes.pipe(
      Stream.runForEach((chunk) =>
        Effect.suspend((): Effect.Effect<void, UnexpectedSize | StoreError> => {
          if (received + chunk.length > limit)
            return Effect.fail(unexpected(received + chunk.length))
          hasher.update(chunk)
          received += chunk.length
          onProgress(0, undefined)
          return write(chunk)
        }),
      ),
    )
    if (expectedSize !== undefined && received !== expectedSize) return yield* unexpected(received)
    const actual = hasher.digest()
    if (actual !== hash)
      return yield* new HashMismatch({ source: sourceId, expected: hash, actual })
    onProgress(received, received)
    return received
  })

/** `fetch` and `fetchWithProgress` from one function that reports events. */
export const fetchApi = (
  run: (
    request: FetchRequest,
    emit: (event: FetchEvent) => void,
  ) => Effect.Effect<FetchResult, FetchError>,
): Pick<BlobStoreService, "fetch" | "fetchWithProgress"> => ({
  fetch: Effect.fn("BlobStore.fetch")(function* (request: FetchRequest) {
    return yield* run(request, () => {})
  }),
  fetchWithProgress: (request) =>
    Stream.callback<FetchEvent, FetchError>((queue) =>
      run(request, (event) => {
        Queue.offerUnsafe(queue, event)
      }).pipe(
        Effect.flatMap((result) =>
          Effect.andThen(Queue.offer(queue, { _tag: "Done", result }), Queue.end(queue)),
        ),
        Effect.catch((error) => Queue.fail(queue, error)),
        Effect.withSpan("BlobStore.fetchWithProgress"),
      ),
    ),
})

export const nodeErrorCode = (cause: unknown): string | undefined => {
  const code = (cause as { code?: unknown } | null)?.code
  return typeof code === "string" ? code : undefined
}
