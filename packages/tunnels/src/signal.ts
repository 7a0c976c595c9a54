import { Deferred, type Duration, Effect, Exit, Option } from "effect"

/**
 * Wakes fibers waiting for a condition on shared mutable state (a session's windows).
 * JavaScript runs one fiber at a time, so checking a condition and reading the current
 * deferred happen without a gap: no wake-up is lost.
 */
export class Signal {
  private deferred = Deferred.makeUnsafe<void>()

  notify(): void {
    const woken = this.deferred
    this.deferred = Deferred.makeUnsafe<void>()
    Deferred.doneUnsafe(woken, Exit.void)
  }

  /** Waits until `condition()` holds. */
  until(condition: () => boolean): Effect.Effect<void> {
    const self = this
    return Effect.gen(function* () {
      while (!condition()) yield* Deferred.await(self.deferred)
    })
  }

  /** Waits until `condition()` holds or `timeout` passes; true when it holds. */
  within(condition: () => boolean, timeout: Duration.Input): Effect.Effect<boolean> {
    if (condition()) return Effect.succeed(true)
    return this.until(condition).pipe(Effect.timeoutOption(timeout), Effect.map(Option.isSome))
  }
}
