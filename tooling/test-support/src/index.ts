// Helpers that several packages' tests need alike. Test code only: no package's
// src imports this.
import { Data, Duration, Effect, Schedule, Stream } from "effect"

/** How long a test waits for a value to travel through the testnet's DHT. */
export const deadline = Duration.seconds(90)

export class NotYet extends Data.TaggedError("NotYet")<{ readonly what: string }> {}

const alwaysRetried = ["NotYet", "RecordNotFound", "RecordTimeout"]

/**
 * `attempt` again until `done` holds, within the deadline (DHT values take a few round
 * trips). Failures tagged `NotYet`, `RecordNotFound`, `RecordTimeout` or one of
 * `retryOn` are retried; others fail the wait.
 */
export const eventually = <A, E extends { readonly _tag: string }, R>(
  what: string,
  attempt: Effect.Effect<A, E, R>,
  done: (a: A) => boolean = () => true,
  retryOn: ReadonlyArray<string> = [],
) =>
  attempt.pipe(
    Effect.flatMap((a) => (done(a) ? Effect.succeed(a) : Effect.fail(new NotYet({ what })))),
    Effect.retry({
      schedule: Schedule.spaced("500 millis"),
      while: (e: E | NotYet) => alwaysRetried.includes(e._tag) || retryOn.includes(e._tag),
    }),
    Effect.timeoutOrElse({
      duration: deadline,
      orElse: () => Effect.die(new Error(`${what}: not within ${Duration.format(deadline)}`)),
    }),
  )

/** The failure of `effect`, or a defect if it succeeds. */
export const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.result(effect), (result) =>
    result._tag === "Failure"
      ? Effect.succeed(result.failure)
      : Effect.die(new Error("expected a failure, got a success")),
  )

/** All bytes of a stream, joined. */
export const bytesOf = <E, R>(stream: Stream.Stream<Uint8Array, E, R>) =>
  Stream.runFold(
    stream,
    () => new Uint8Array(0),
    (acc, chunk) => {
      const out = new Uint8Array(acc.length + chunk.length)
      out.set(acc)
      out.set(chunk, acc.length)
      return out
    },
  )

/** `size` bytes of a repeating pattern. */
export const pattern = (size: number, seed = 7): Uint8Array =>
  Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed) & 0xff)

/**
 * `f` again every 500 ms until it resolves, for tests written with promises (processes,
 * raw HTTP); its last error once `millis` have passed.
 */
export const eventuallyAsync = async <A>(f: () => Promise<A>, millis = 90_000): Promise<A> => {
  const deadline = Date.now() + millis
  for (;;) {
    try {
      return await f()
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
}
