// Waiting on a real network with a deadline: an attempt is repeated while it fails in a
// way a later attempt may not (a DHT value that has not reached this node yet, a route
// that timed out under load), and the whole wait fails once the deadline passes.
import { Data, Duration, Effect, Option, Schedule } from "effect"

/** Nothing succeeded before the deadline; `message` ends with the last failure seen. */
export class DeadlineExceeded extends Data.TaggedError("DeadlineExceeded")<{
  readonly what: string
  readonly message: string
}> {}

/** A value that is not there yet (e.g. a DHT subkey this node has not seen). */
export class NotYet extends Data.TaggedError("NotYet")<{ readonly message: string }> {}

const describe = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error
    ? `${(error as { _tag?: string })._tag ?? "Error"}: ${String(error.message)}`
    : String(error)

export interface RetryOptions<E> {
  /** Failures worth another attempt; anything else fails the wait at once. */
  readonly retryable: (error: E) => boolean
  readonly deadline: Duration.Input
  /** Pause between attempts (default 300 ms). */
  readonly spacing?: Duration.Input
}

/** Runs `attempt` until it succeeds, retrying `retryable` failures until the deadline. */
export const retryUntil = <A, E, R>(
  what: string,
  attempt: Effect.Effect<A, E, R>,
  options: RetryOptions<E>,
): Effect.Effect<A, E | DeadlineExceeded, R> =>
  Effect.suspend(() => {
    let last = "no attempt finished"
    return attempt.pipe(
      Effect.tapError((error) =>
        Effect.sync(() => {
          last = describe(error)
        }),
      ),
      Effect.retry({
        schedule: Schedule.spaced(options.spacing ?? "300 millis"),
        while: options.retryable,
      }),
      Effect.timeoutOrElse({
        duration: options.deadline,
        orElse: () =>
          Effect.fail(
            new DeadlineExceeded({
              what,
              message: `${what}: not done within ${Duration.format(Duration.fromInputUnsafe(options.deadline))} (last: ${last})`,
            }),
          ),
      }),
    )
  })

/** Like `retryUntil`, for reads that answer `None` until the value arrives. */
export const someUntil = <A, E, R>(
  what: string,
  attempt: Effect.Effect<Option.Option<A>, E, R>,
  options: RetryOptions<E>,
): Effect.Effect<A, E | DeadlineExceeded, R> =>
  retryUntil<A, E | NotYet, R>(
    what,
    Effect.flatMap(attempt, (found) =>
      Option.match(found, {
        onNone: () => Effect.fail(new NotYet({ message: `${what}: nothing yet` })),
        onSome: Effect.succeed,
      }),
    ),
    {
      ...options,
      retryable: (error) => error instanceof NotYet || options.retryable(error as E),
    },
  ) as Effect.Effect<A, E | DeadlineExceeded, R>
