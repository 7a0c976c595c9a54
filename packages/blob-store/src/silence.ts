// How a fetch gives up on a source that went quiet: a timer that fails once nothing has
// been heard from it for the timeout (the attempt races it and calls `heard` on each sign
// of life).
import { Effect } from "effect"
import { SourceTimeout } from "./errors.ts"

/** A sign-of-life clock for one attempt on `source`, and the timer that ends a silent one. */
export const silenceTimer = (source: string, timeoutMillis: number) => {
  let last = Date.now()
  const tick = Math.max(10, Math.min(250, timeoutMillis / 4))
  const expired = Effect.gen(function* () {
    while (true) {
      yield* Effect.sleep(tick)
      if (Date.now() - last > timeoutMillis)
        return yield* new SourceTimeout({ source, afterMillis: timeoutMillis })
    }
  })
  return {
    heard: () => {
      last = Date.now()
    },
    expired,
  }
}
