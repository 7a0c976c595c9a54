// One `GetMany` as an attempt of the fetch engine's pool: its blobs are in flight
// together, each lands on its own as it comes, and what did not land goes back to the
// queue for the other sources.
import { Cause, Effect, Exit, Fiber, Option, Queue } from "effect"
import type { FetchBatch } from "./batch-fetch.ts"
import type { BatchPlan } from "./batch-plan.ts"
import { isStoreError, NotFoundAtSource, type SourceFailure, type StoreError } from "./errors.ts"
import type { Attempt, SourceState } from "./fetch-engine.ts"
import type { BlobHash } from "./hash.ts"
import { silenceTimer } from "./silence.ts"
import type { TunnelSource } from "./source.ts"

/** The pool's bookkeeping a batch takes part in (`runFetch`'s `pool`). */
export interface BatchPool {
  readonly queue: Queue.Queue<BlobHash>
  readonly landed: ReadonlySet<BlobHash>
  readonly plan: BatchPlan
  readonly timeoutMillis: number
  /** Marks `attempt` in flight for `hash`. */
  readonly track: (hash: BlobHash, attempt: Attempt) => void
  /** Whether `attempt` is still in flight for `hash`. */
  readonly tracked: (hash: BlobHash, attempt: Attempt) => boolean
  /** `attempt` is done with `hash`; returns the attempts still on it. */
  readonly settle: (hash: BlobHash, attempt: Attempt) => ReadonlyArray<Attempt>
  /** `attempt` brought `hash` into the store; the first to do so wins. */
  readonly land: (hash: BlobHash, attempt: Attempt) => Effect.Effect<void, StoreError>
  readonly progress: (
    hash: BlobHash,
    state: SourceState,
    heard: () => void,
    bytes: number,
    total: number | undefined,
  ) => void
  /** Drops a source that failed. */
  readonly drop: (state: SourceState, failure: SourceFailure) => Effect.Effect<unknown>
  /** Ends the pool on a failure no other source can help with. */
  readonly fatal: (cause: Cause.Cause<SourceFailure | StoreError>) => Effect.Effect<unknown>
}

/**
 * One `GetMany` of `hashes` from `state`'s source, raced against its silence like any
 * attempt. A source that lacked one of them is dropped as for a single blob, once the
 * rest of the call landed; one that predates `GetMany` gets single `Get`s from then on.
 */
export const runBatch = (
  pool: BatchPool,
  fetchBatch: FetchBatch,
  hashes: ReadonlyArray<BlobHash>,
  state: SourceState,
  source: TunnelSource,
) =>
  Effect.gen(function* () {
    const mine: Attempt = { state, fiber: undefined, batch: true }
    for (const hash of hashes) pool.track(hash, mine)
    const silence = silenceTimer(source.id, pool.timeoutMillis)
    const fiber = yield* Effect.forkChild(
      Effect.raceFirst(
        fetchBatch(source, hashes, {
          onProgress: (hash, bytes, total) =>
            pool.progress(hash, state, silence.heard, bytes, total),
          wanted: (hash) => !pool.landed.has(hash),
          // Not cut off halfway by the silence timer: the pool's counts would be off.
          landed: (hash) => Effect.uninterruptible(pool.land(hash, mine)),
        }),
        silence.expired,
      ),
    )
    mine.fiber = fiber
    const exit = yield* Fiber.await(fiber)
    // Known before the hashes go back, so no worker batches a large blob again.
    if (Exit.isSuccess(exit)) {
      if (exit.value._tag === "Unsupported") state.batches = false
      else for (const { hash, size } of exit.value.tooLarge) pool.plan.tooLarge(hash, size)
    }
    const again: Array<BlobHash> = []
    for (const hash of hashes)
      if (pool.tracked(hash, mine)) {
        const others = pool.settle(hash, mine)
        if (!pool.landed.has(hash) && others.length === 0) again.push(hash)
      }
    yield* Queue.offerAll(pool.queue, again)
    if (Exit.isFailure(exit)) {
      const error = Cause.findErrorOption(exit.cause)
      if (Option.isNone(error) || isStoreError(error.value)) return yield* pool.fatal(exit.cause)
      return yield* pool.drop(state, error.value)
    }
    const missing = exit.value._tag === "Answered" ? exit.value.notFound[0] : undefined
    if (missing !== undefined)
      yield* pool.drop(state, new NotFoundAtSource({ source: source.id, hash: missing }))
  })
