import { expect, it } from "@effect/vitest"
import { Data, Effect, Option } from "effect"
import { retryUntil, someUntil } from "../src/deadline.ts"

class Flaky extends Data.TaggedError("Flaky")<{ readonly message: string }> {}
class Broken extends Data.TaggedError("Broken")<{ readonly message: string }> {}

const failingTimes = (n: number) => {
  let calls = 0
  const attempt = Effect.suspend(() => {
    calls += 1
    return calls <= n
      ? Effect.fail(new Flaky({ message: `attempt ${calls}` }))
      : Effect.succeed(calls)
  })
  return { attempt, calls: () => calls }
}

const fast = { spacing: "5 millis", deadline: "2 seconds" } as const

it.live("retryable failures are tried again until the attempt succeeds", () =>
  Effect.gen(function* () {
    const { attempt } = failingTimes(3)
    const value = yield* retryUntil("flaky", attempt, { ...fast, retryable: () => true })
    expect(value).toBe(4)
  }),
)

it.live("a failure that is not retryable ends the wait at once", () =>
  Effect.gen(function* () {
    let calls = 0
    const attempt = Effect.suspend(() => {
      calls += 1
      return Effect.fail(new Broken({ message: "no" }))
    })
    const error = yield* Effect.flip(
      retryUntil("broken", attempt, { ...fast, retryable: () => false }),
    )
    expect(error._tag).toBe("Broken")
    expect(calls).toBe(1)
  }),
)

it.live("the deadline ends the wait with the last failure in the message", () =>
  Effect.gen(function* () {
    const { attempt } = failingTimes(Number.POSITIVE_INFINITY)
    const error = yield* Effect.flip(
      retryUntil("never", attempt, {
        spacing: "5 millis",
        deadline: "60 millis",
        retryable: () => true,
      }),
    )
    expect(error._tag).toBe("DeadlineExceeded")
    expect(error.message).toMatch(/^never: not done within .*\(last: Flaky: attempt \d+\)$/)
  }),
)

it.live("someUntil waits for a value that is not there yet", () =>
  Effect.gen(function* () {
    let reads = 0
    const read = Effect.sync(() => {
      reads += 1
      return reads < 3 ? Option.none<string>() : Option.some("here")
    })
    expect(yield* someUntil("value", read, { ...fast, retryable: () => false })).toBe("here")
    const never = yield* Effect.flip(
      someUntil("nothing", Effect.succeed(Option.none()), {
        spacing: "5 millis",
        deadline: "40 millis",
        retryable: () => false,
      }),
    )
    expect(never.message).toMatch(/\(last: NotYet: nothing: nothing yet\)$/)
  }),
)
