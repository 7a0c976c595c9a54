// One large blob from several sources at once (tunnel peers, Iroh nodes). The blob is cut
// into pieces; every source runs workers that each take the next piece and ask for that
// range (a `Get` with offset and length), so a faster source takes more pieces; the bytes
// go to their place in one temp file. A source that fails, or sends nothing for the
// timeout, is dropped and its piece goes back for the others. Once every piece is in, the
// whole file is hashed: only a file whose BLAKE3 is the hash asked for is kept. Ranges are
// not verified on their own (that would need BLAKE3 tree verification here), so a lying
// source is caught only at the end, and cannot be named: the caller then fetches from one
// source at a time, which finds it.
import type { FileHandle } from "node:fs/promises"
import * as fs from "node:fs/promises"
import { releasePayload } from "@save-dweb/tunnels"
import { Cause, Deferred, Effect, Exit, Fiber, Option, Queue, Stream } from "effect"
import { HashMismatch, ioError, type SourceFailure, type StoreError } from "./errors.ts"
import { type BlobHash, makeBlake3 } from "./hash.ts"
import { silenceTimer } from "./silence.ts"
import type { IrohSource, SourceProgress, TunnelSource } from "./source.ts"

/** A blob smaller than this comes from one source (a piece per source would be tiny). */
export const splitMinBytes = 8 * 1024 * 1024
/** Ranges asked of one source at once: one opens while the other streams. */
const workersPerSource = 2
/** Bytes hashed per read of the finished file. */
const hashChunk = 1024 * 1024

/** A source that answers ranges: a tunnel peer, or an Iroh node (`RANGE_ALPN`). */
export type RangeSource = TunnelSource | IrohSource

export interface SplitFetch {
  readonly hash: BlobHash
  readonly size: number
  readonly sources: ReadonlyArray<RangeSource>
  /** `length` bytes of the blob at `offset` from `source`, checked against what was asked. */
  readonly range: (
    source: RangeSource,
    offset: number,
    length: number,
  ) => Stream.Stream<Uint8Array, SourceFailure>
  /** The temp file the pieces are written to (created here, removed by the caller). */
  readonly file: string
  readonly timeoutMillis: number
  /** Bytes in so far (all pieces), after every write. */
  readonly onProgress: (bytes: number) => void
  /** Bytes from the start that are in the file, in order (for a reader that follows). */
  readonly onPrefix: (bytes: number) => void
}

/** How a split fetch ended when it did not bring the blob: the caller fetches another way. */
export interface SplitOutcome {
  readonly complete: boolean
  readonly sources: ReadonlyArray<SourceProgress>
}

/**
 * The sources worth asking again, one at a time, after a split fetch: all of them when it
 * completed (the engine then finds the blob held); after one that did not, not those it found unreachable or silent before their first byte (asking them
 * again would only wait out the same timeout once more). Sources that sent bytes stay,
 * and so does every source when the assembled bytes were not the blob: one of them lied,
 * and only a single-source fetch names which.
 */
export const sourcesAfterSplit = <S extends { readonly id: string }>(
  sources: ReadonlyArray<S>,
  split: SplitOutcome,
): ReadonlyArray<S> => {
  if (split.complete) return sources
  const dead = new Set(
    split.sources
      .filter(
        (p) =>
          p.bytes === 0 &&
          (p.failure?._tag === "SourceUnreachable" || p.failure?._tag === "SourceTimeout"),
      )
      .map((p) => p.source),
  )
  return sources.filter((s) => !dead.has(s.id))
}

/** The piece size: about four per source, within 1 to 8 MiB. */
export const pieceBytes = (size: number, sources: number) =>
  Math.min(8 * 1024 * 1024, Math.max(1024 * 1024, Math.ceil(size / (sources * 4))))

/**
 * Fetches `hash` into `file` from every source at once. Succeeds with `complete: true`
 * once the file holds the verified blob; `complete: false` when every source failed or
 * the assembled bytes are not the blob (the failures are in `sources`). Store errors
 * (disk full) fail it.
 */
export const splitFetch = (job: SplitFetch): Effect.Effect<SplitOutcome, StoreError> =>
  Effect.gen(function* () {
    const piece = pieceBytes(job.size, job.sources.length)
    const pieces = Math.ceil(job.size / piece)
    const states = job.sources.map((source) => ({
      source,
      bytes: 0,
      failure: undefined as SourceFailure | undefined,
    }))
    const written = new Array<number>(pieces).fill(0)
    let total = 0
    let frontier = 0 // pieces complete from the start
    let remaining = pieces
    const lengthOf = (index: number) => Math.min(piece, job.size - index * piece)
    const prefix = () => {
      while (frontier < pieces && written[frontier] === lengthOf(frontier)) frontier++
      return Math.min(job.size, frontier * piece + (written[frontier] ?? 0))
    }

    const handle = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const h = await fs.open(job.file, "w+")
          await h.truncate(job.size)
          return h
        },
        catch: (cause) => ioError(job.file, cause),
      }),
      (h) => Effect.promise(() => h.close()),
    )

    const queue = yield* Queue.unbounded<number>()
    yield* Queue.offerAll(
      queue,
      Array.from({ length: pieces }, (_, i) => i),
    )
    const finished = yield* Deferred.make<boolean, StoreError>()

    /** One piece from one source, written at its place; restarts the piece from its start. */
    const fetchPiece = (state: (typeof states)[number], index: number) =>
      Effect.suspend(() => {
        const offset = index * piece
        const length = lengthOf(index)
        total -= written[index] ?? 0
        written[index] = 0
        const silence = silenceTimer(state.source.id, job.timeoutMillis)
        const receive = job.range(state.source, offset, length).pipe(
          Stream.runForEach((chunk) =>
            Effect.tryPromise({
              try: () =>
                writeAt(handle, chunk, offset + (written[index] ?? 0)).then(() => {
                  silence.heard()
                  written[index] = (written[index] ?? 0) + chunk.length
                  total += chunk.length
                  state.bytes += chunk.length
                  // On disk: a tunnel's reply need not wait for V8 (empties `chunk`).
                  releasePayload(chunk)
                  job.onProgress(total)
                  job.onPrefix(prefix())
                }),
              catch: (cause) => ioError(job.file, cause),
            }),
          ),
        )
        return Effect.raceFirst(receive, silence.expired)
      })

    const alive = () => states.filter((s) => s.failure === undefined)

    const worker = (state: (typeof states)[number]) =>
      Effect.gen(function* () {
        while (state.failure === undefined) {
          const index = yield* Queue.take(queue)
          const exit = yield* Effect.exit(fetchPiece(state, index))
          if (Exit.isSuccess(exit)) {
            if (--remaining === 0) yield* Deferred.succeed(finished, true)
            continue
          }
          yield* Queue.offer(queue, index)
          const error = Cause.findErrorOption(exit.cause)
          if (Option.isNone(error)) return yield* Effect.failCause(exit.cause)
          const failure = error.value
          if (failure._tag === "IoError" || failure._tag === "DiskFull")
            return yield* Deferred.fail(finished, failure)
          state.failure ??= failure
          if (alive().length === 0) yield* Deferred.succeed(finished, false)
        }
      })

    const assembled = yield* Effect.scoped(
      Effect.gen(function* () {
        const fibers = []
        for (const state of states)
          for (let i = 0; i < workersPerSource; i++)
            fibers.push(yield* Effect.forkScoped(worker(state)))
        const result = yield* Deferred.await(finished)
        for (const fiber of fibers) yield* Fiber.interrupt(fiber)
        return result
      }),
    )
    const progress = (): ReadonlyArray<SourceProgress> =>
      states.map((s) => ({
        source: s.source.id,
        bytes: s.bytes,
        blobs: 0,
        failure: s.failure,
      }))
    if (!assembled) return { complete: false, sources: progress() }

    const actual = yield* hashFile(handle, job.size, job.file)
    if (actual !== job.hash) {
      const mismatch = new HashMismatch({
        source: job.sources.map((s) => s.id).join("+"),
        expected: job.hash,
        actual,
      })
      return {
        complete: false,
        sources: progress().map((p) => ({ ...p, failure: p.failure ?? mismatch })),
      }
    }
    return { complete: true, sources: progress() }
  }).pipe(Effect.scoped)

const writeAt = async (handle: FileHandle, chunk: Uint8Array, position: number) => {
  let done = 0
  while (done < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, position + done)
    done += bytesWritten
  }
}

const hashFile = (handle: FileHandle, size: number, file: string) =>
  Effect.tryPromise({
    try: async () => {
      const hasher = await makeBlake3()
      const buffer = Buffer.allocUnsafe(hashChunk)
      for (let position = 0; position < size; ) {
        const { bytesRead } = await handle.read(
          buffer,
          0,
          Math.min(hashChunk, size - position),
          position,
        )
        if (bytesRead === 0) throw new Error(`${file} ended at ${position} of ${size} bytes`)
        hasher.update(buffer.subarray(0, bytesRead))
        position += bytesRead
      }
      return hasher.digest()
    },
    catch: (cause) => ioError(file, cause),
  })
