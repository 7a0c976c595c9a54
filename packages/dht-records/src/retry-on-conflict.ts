import { Effect } from "effect"

/** Conflicts `retryOnConflict` tolerates by default before the last one is the answer. */
export const CONFLICT_RETRIES = 3

export interface RetryOnConflictOptions {
  /** Tries after the first (default `CONFLICT_RETRIES`). */
  readonly times?: number
}

/**
 * Runs a read-modify-write again while it fails with `RecordConflict`: another writer got
 * there first, and the conflict brought its newer value here, so the next attempt reads it
 * and writes above it. `self` must read what it modifies each time it runs. Other errors,
 * and the conflict after the last try, fail as they are.
 *
 * ```ts
 * record.get(0, { refresh: true }).pipe(Effect.flatMap(change), Effect.flatMap(set), retryOnConflict)
 * ```
 */
export const retryOnConflict = <A, E extends { readonly _tag: string }, R>(
  self: Effect.Effect<A, E, R>,
  options?: RetryOnConflictOptions,
): Effect.Effect<A, E, R> =>
  Effect.retry(self, {
    times: options?.times ?? CONFLICT_RETRIES,
    while: (error) => error._tag === "RecordConflict",
  })
