// A read-modify-write that lost to a concurrent writer reads again and retries.
import { Effect } from "effect"

export const retryConflicts = <A, E extends { readonly _tag: string }, R>(
  self: Effect.Effect<A, E, R>,
): Effect.Effect<A, E, R> => {
  const attempt = (n: number): Effect.Effect<A, E, R> =>
    self.pipe(
      Effect.catch((error: E) =>
        error._tag === "RecordConflict" && n < 5 ? attempt(n + 1) : Effect.fail(error),
      ),
    )
  return attempt(1)
}
