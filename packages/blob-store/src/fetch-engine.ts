import { Cause, Deferred, Effect, Exit, Fiber, Option, Queue } from "effect"
import { type BatchPool, runBatch } from "./batch-attempt.ts"
import type { FetchBatch } from "./batch-fetch.ts"
import { makeBatchPlan } from "./batch-plan.ts"
import { type CollectionEntry, decodeHashSeq, decodeMeta, nameProblem } from "./collection.ts"
import {
  AllSourcesFailed,
  type BlobNotFound,
  type FetchError,
  InvalidCollection,
  isStoreError,
  NoSource,
  type SourceFailure,
  type StoreError,
} from "./errors.ts"
import type { BlobHash } from "./hash.ts"
import { silenceTimer } from "./silence.ts"
import type { FetchEvent, FetchProgress, FetchRequest, Source, SourceProgress } from "./source.ts"

/** What a layer gives the shared scheduler for one fetch. */
export interface FetchTarget {
  readonly has: (hash: BlobHash) => Effect.Effect<boolean, StoreError>
  readonly size: (hash: BlobHash) => Effect.Effect<number, BlobNotFound | StoreError>
  /** Whole blob into memory: only for hash sequences and names. */
  readonly readSmall: (hash: BlobHash) => Effect.Effect<Uint8Array, BlobNotFound | StoreError>
  /** Keeps these hashes (complete or partial) from being collected until the fetch ends. */
  readonly protect: (hashes: ReadonlyArray<BlobHash>) => Effect.Effect<void, StoreError>
  /**
   * One blob from one source, verified before it is visible. `onProgress`
   * gets verified bytes so far (absolute within the blob) and, once known,
   * the blob's size; any call counts as a sign of life for the timeout. A source that
   * announces or sends a size other than `expectedSize` (when given) fails with
   * `UnexpectedSize` before any byte is written.
   */
  readonly fetchBlob: (
    hash: BlobHash,
    source: Source,
    onProgress: (done: number, total: number | undefined) => void,
    expectedSize: number | undefined,
  ) => Effect.Effect<void, SourceFailure | StoreError>
  /**
   * Several small blobs from one tunnel source in one call, each verified and landed on its
   * own (as `fetchBlob` would). Without it every blob is its own call.
   */
  readonly fetchBatch?: FetchBatch
  /**
   * Whether an attempt on this source stops cleanly when interrupted, so another source
   * may race it for the same blob (Iroh downloads cannot be cancelled from JS).
   */
  readonly cancellable: (source: Source) => boolean
}

export interface EngineResult {
  readonly bytes: number
  readonly blobs: number
  readonly sources: ReadonlyArray<SourceProgress>
  readonly collection:
    | { readonly meta: BlobHash; readonly entries: ReadonlyArray<CollectionEntry> }
    | undefined
}

export interface SourceState {
  source: Source
  bytes: number
  blobs: number
  failure: SourceFailure | undefined
  /** Cleared when the source answers a batch with `BadRequest` (it predates `GetMany`). */
  batches: boolean
}

export interface Attempt {
  readonly state: SourceState
  /** Set once forked. */
  fiber: Fiber.Fiber<unknown, SourceFailure | StoreError> | undefined
  /**
   * A batch's attempt carries other blobs too: a source landing one of them first does not
   * interrupt it (the batch reads past that blob instead).
   */
  readonly batch: boolean
}

const progressIntervalMillis = 100

/**
 * Requests in flight per source unless the fetch says otherwise. An Iroh blob costs a probe
 * and a download, a few round trips on one QUIC connection, so a source far away is bound
 * by round trips until many are in flight (1000 × 64 KiB at 50 ms: 14 files/s with 4,
 * 62 with 16; README, "On an emulated WAN"). A tunnel source takes small blobs many per
 * call (`GetMany`), and each of its calls is a session the provider counts.
 */
const defaultConcurrency = (source: Source): number => (source._tag === "IrohSource" ? 16 : 4)

/**
 * Multi-source scheduler shared by every layer.
 *
 * Work is a queue of hashes (one for a blob; hash sequence, then names, then
 * members for a collection). Each live source runs `concurrencyPerSource`
 * workers that take the next hash, so faster sources take more. A source that
 * fails once (error, wrong bytes, silence longer than the timeout) is dropped
 * and its hash goes back to the queue for the others; what was verified stays
 * in the store, so the next source resumes rather than restarts (Iroh asks only
 * for the chunks it is missing). Once the queue is empty, an idle source that
 * has delivered more races a slower one for a blob it still holds (end game).
 */
export const runFetch = (
  request: FetchRequest,
  target: FetchTarget,
  defaults: { readonly timeoutMillis: number },
  emit: (event: FetchEvent) => void,
): Effect.Effect<EngineResult, FetchError> =>
  Effect.gen(function* () {
    if (request.sources.length === 0) return yield* new NoSource({ hash: request.hash })
    const timeoutMillis = request.timeoutMillis ?? defaults.timeoutMillis
    const concurrencyOf = (source: Source) =>
      Math.max(1, request.concurrencyPerSource ?? defaultConcurrency(source))
    const states = new Map<string, SourceState>()
    for (const source of request.sources)
      if (!states.has(source.id))
        states.set(source.id, { source, bytes: 0, blobs: 0, failure: undefined, batches: true })
    const failures: Array<SourceFailure> = []
    const totals = new Map<BlobHash, number>()
    const done = new Map<BlobHash, number>()
    let blobsDone = 0
    let blobsTotal = 0
    let lastEmit = 0

    const sourceProgress = (): ReadonlyArray<SourceProgress> =>
      [...states.values()].map((s) => ({
        source: s.source.id,
        bytes: s.bytes,
        blobs: s.blobs,
        failure: s.failure,
      }))
    const sum = (m: Map<BlobHash, number>) => {
      let n = 0
      for (const v of m.values()) n += v
      return n
    }
    const snapshot = (): FetchProgress => ({
      _tag: "Progress",
      bytesDone: sum(done),
      bytesTotal: sum(totals),
      blobsDone,
      blobsTotal,
      sources: sourceProgress(),
    })
    const report = (force: boolean) => {
      const now = Date.now()
      if (force || now - lastEmit >= progressIntervalMillis) {
        lastEmit = now
        emit(snapshot())
      }
    }
    const credit = (hash: BlobHash, bytes: number, state: SourceState | undefined) => {
      const before = done.get(hash) ?? 0
      if (bytes > before) {
        done.set(hash, bytes)
        if (state) state.bytes += bytes - before
      }
    }
    const alive = () => [...states.values()].filter((s) => s.failure === undefined)
    const dropSource = (state: SourceState, failure: SourceFailure) => {
      if (state.failure !== undefined) return
      state.failure = failure
      failures.push(failure)
      emit({ _tag: "SourceFailed", failure })
    }
    const allFailed = () => new AllSourcesFailed({ hash: request.hash, failures: [...failures] })

    const progress = (
      hash: BlobHash,
      state: SourceState,
      heard: () => void,
      bytes: number,
      total: number | undefined,
    ) => {
      heard()
      if (total !== undefined) totals.set(hash, total)
      credit(hash, bytes, state)
      report(false)
    }

    const attempt = (hash: BlobHash, state: SourceState) =>
      Effect.suspend(() => {
        const silence = silenceTimer(state.source.id, timeoutMillis)
        const onProgress = (bytes: number, total: number | undefined) =>
          progress(hash, state, silence.heard, bytes, total)
        const expectedSize =
          request.kind === "blob" && hash === request.hash ? request.expectedSize : undefined
        return Effect.raceFirst(
          target.fetchBlob(hash, state.source, onProgress, expectedSize),
          silence.expired,
        )
      })

    const counted = new Set<BlobHash>()
    const completed = (hash: BlobHash, state: SourceState | undefined) =>
      Effect.gen(function* () {
        const size = totals.get(hash) ?? (yield* target.size(hash))
        totals.set(hash, size)
        credit(hash, size, state)
        if (!counted.has(hash)) {
          counted.add(hash)
          blobsDone++
        }
        if (state) state.blobs++
        report(false)
      }).pipe(Effect.catchTag("BlobNotFound", () => Effect.void))

    /** Brings every hash into the store, or fails once no source is left. */
    const pool = (hashes: ReadonlyArray<BlobHash>) =>
      Effect.gen(function* () {
        const missing: Array<BlobHash> = []
        for (const hash of hashes) {
          if (yield* target.has(hash)) yield* completed(hash, undefined)
          else missing.push(hash)
        }
        if (missing.length === 0) return
        if (alive().length === 0) return yield* allFailed()
        const queue = yield* Queue.unbounded<BlobHash>()
        yield* Queue.offerAll(queue, missing)
        let remaining = missing.length
        const finished = yield* Deferred.make<void, AllSourcesFailed | StoreError>()
        const landed = new Set<BlobHash>()
        const inflight = new Map<BlobHash, Array<Attempt>>()

        /**
         * End game: with nothing left in the queue, an idle source that has delivered more
         * than the source holding a blob races it for that blob (at most two attempts per
         * blob; the first to land wins and the other is interrupted). Without it one slow
         * source (a tunnel) holding the last blobs keeps a fast one (Iroh) waiting.
         */
        const raceable = (state: SourceState): BlobHash | undefined => {
          for (const [hash, attempts] of inflight) {
            const only = attempts.length === 1 ? attempts[0] : undefined
            if (
              only !== undefined &&
              !landed.has(hash) &&
              only.state !== state &&
              only.state.bytes < state.bytes &&
              target.cancellable(only.state.source)
            )
              return hash
          }
          return undefined
        }

        const settle = (hash: BlobHash, attempt: Attempt) => {
          const attempts = (inflight.get(hash) ?? []).filter((a) => a !== attempt)
          if (attempts.length > 0) inflight.set(hash, attempts)
          else inflight.delete(hash)
          return attempts
        }

        /** Marks `attempt` in flight for `hash`. */
        const track = (hash: BlobHash, attempt: Attempt) => {
          inflight.set(hash, [...(inflight.get(hash) ?? []), attempt])
        }

        /** `attempt` brought `hash` into the store; the first to do so wins. */
        const land = (hash: BlobHash, attempt: Attempt) =>
          Effect.gen(function* () {
            const others = settle(hash, attempt)
            if (landed.has(hash)) return
            landed.add(hash)
            for (const other of others)
              if (!other.batch && other.fiber !== undefined) yield* Fiber.interrupt(other.fiber)
            yield* completed(hash, attempt.state)
            remaining--
            if (remaining === 0) yield* Deferred.succeed(finished, undefined)
          })

        /** Ends the pool on a failure no other source can help with. */
        const fatal = (cause: Cause.Cause<SourceFailure | StoreError>) => {
          const error = Cause.findErrorOption(cause)
          if (Option.isSome(error) && isStoreError(error.value))
            return Deferred.fail(finished, error.value)
          return Deferred.failCause(finished, cause as Cause.Cause<never>)
        }

        const drop = (state: SourceState, failure: SourceFailure) =>
          Effect.gen(function* () {
            dropSource(state, failure)
            report(true)
            if (alive().length === 0) yield* Deferred.fail(finished, allFailed())
          })

        const batches: BatchPool = {
          queue,
          landed,
          plan: makeBatchPlan({
            queue,
            landed,
            workers: () => alive().reduce((n, state) => n + concurrencyOf(state.source), 0),
            sizeOf: (hash) => totals.get(hash),
          }),
          timeoutMillis,
          track,
          tracked: (hash, attempt) => (inflight.get(hash) ?? []).includes(attempt),
          settle,
          land,
          progress,
          drop,
          fatal,
        }

        const worker = (state: SourceState) =>
          Effect.gen(function* () {
            while (state.failure === undefined) {
              const next = yield* Queue.poll(queue)
              const hash = Option.isSome(next)
                ? next.value
                : (raceable(state) ?? (yield* Queue.take(queue)))
              if (landed.has(hash)) continue
              if (state.failure !== undefined) {
                if (!inflight.has(hash)) yield* Queue.offer(queue, hash)
                return
              }
              if (
                target.fetchBatch !== undefined &&
                state.source._tag === "TunnelSource" &&
                state.batches
              ) {
                const batch = yield* batches.plan.gather(hash)
                if (batch.length > 1) {
                  yield* runBatch(batches, target.fetchBatch, batch, state, state.source)
                  continue
                }
              }
              const mine: Attempt = { state, fiber: undefined, batch: false }
              mine.fiber = yield* Effect.forkChild(attempt(hash, state))
              track(hash, mine)
              const exit = yield* Fiber.await(mine.fiber)
              if (Exit.isSuccess(exit)) {
                yield* land(hash, mine)
                continue
              }
              const others = settle(hash, mine)
              const error = Cause.findErrorOption(exit.cause)
              if (Option.isNone(error)) {
                // Interrupted because another source landed the blob first.
                if (landed.has(hash) && Cause.hasInterruptsOnly(exit.cause)) continue
                return yield* fatal(exit.cause)
              }
              if (isStoreError(error.value)) return yield* fatal(exit.cause)
              if (!landed.has(hash) && others.length === 0) yield* Queue.offer(queue, hash)
              yield* drop(state, error.value)
            }
          }).pipe(Effect.catchCause((cause) => Deferred.failCause(finished, cause)))

        yield* Effect.scoped(
          Effect.gen(function* () {
            // One worker of each source in turn, so a collection smaller than the workers
            // is still spread over the sources rather than taken by the first one's.
            const starting = alive()
            const most = Math.max(...starting.map((state) => concurrencyOf(state.source)))
            for (let i = 0; i < most; i++)
              for (const state of starting)
                if (i < concurrencyOf(state.source)) yield* Effect.forkScoped(worker(state))
            yield* Deferred.await(finished)
          }),
        )
      })

    /**
     * `pool`, then again for any hash the store does not hold complete. Two sources can
     * race for one blob (end game); the loser's write may still be settling in the store
     * when the winner lands, so completeness is checked, not assumed.
     */
    const fetchAll = (hashes: ReadonlyArray<BlobHash>) =>
      Effect.gen(function* () {
        yield* pool(hashes)
        for (let round = 0; round < 2; round++) {
          const missing: Array<BlobHash> = []
          for (const hash of hashes) if (!(yield* target.has(hash))) missing.push(hash)
          if (missing.length === 0) return
          yield* pool(missing)
        }
      })

    const invalid = (reason: string) => new InvalidCollection({ hash: request.hash, reason })

    if (request.kind === "blob") {
      blobsTotal = 1
      yield* target.protect([request.hash])
      yield* fetchAll([request.hash])
      report(true)
      return {
        bytes: sum(totals),
        blobs: blobsDone,
        sources: sourceProgress(),
        collection: undefined,
      }
    }

    blobsTotal = 1
    yield* target.protect([request.hash])
    yield* fetchAll([request.hash])
    // Just fetched and held by the fetch: a missing blob here is a bug.
    const readHeld = (hash: BlobHash) =>
      target.readSmall(hash).pipe(Effect.catchTag("BlobNotFound", (e) => Effect.die(e)))
    const seq = decodeHashSeq(yield* readHeld(request.hash))
    if (seq === undefined || seq.length === 0) return yield* invalid("not a hash sequence")
    const [meta, ...members] = seq as [BlobHash, ...Array<BlobHash>]
    const unique = [...new Set(members)].filter((h) => h !== meta && h !== request.hash)
    blobsTotal = 2 + unique.length
    yield* target.protect([request.hash, meta, ...unique])
    yield* fetchAll([meta])
    const names = decodeMeta(yield* readHeld(meta))
    if (names === undefined) return yield* invalid("names blob is not an Iroh collection header")
    if (names.length !== members.length)
      return yield* invalid(`${names.length} names for ${members.length} members`)
    const seen = new Set<string>()
    for (const name of names) {
      const problem = nameProblem(name)
      if (problem !== undefined) return yield* invalid(`${problem}: ${JSON.stringify(name)}`)
      if (seen.has(name)) return yield* invalid(`duplicate name ${JSON.stringify(name)}`)
      seen.add(name)
    }
    yield* fetchAll(unique)
    report(true)
    const entries = names.map((name, i) => ({ name, hash: members[i] as BlobHash }))
    return {
      bytes: sum(totals),
      blobs: blobsDone,
      sources: sourceProgress(),
      collection: { meta, entries },
    }
  })
