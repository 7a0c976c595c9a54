// A file's copies off this device in one line, and what `file add --wait-copies N` does:
// ask for them every few seconds, with a progress line, until N are proven or the deadline.
import type { FileCopies } from "@save-dweb/client"
import { Clock, type Duration, Effect } from "effect"
import { CopiesTimeout } from "./errors.ts"
import type { Output } from "./output.ts"

/** Who holds it, in one line: `2 verified copies off this device (Bob, Archive)`. */
export const copiesLine = (c: FileCopies) => {
  const names = c.copies.filter((x) => x.status === "verified").map((x) => x.name)
  const unknown = c.copies.filter((x) => x.status === "unknown").map((x) => x.name)
  return [
    `${c.verified} verified ${c.verified === 1 ? "copy" : "copies"} off this device`,
    names.length === 0 ? "" : ` (${names.join(", ")})`,
    c.target === null ? "" : `, target ${c.target}${c.reached === true ? " reached" : ""}`,
    unknown.length === 0 ? "" : `; no answer from ${unknown.join(", ")}`,
  ].join("")
}

export interface WaitForCopiesOptions {
  readonly name: string
  readonly atLeast: number
  readonly timeoutSeconds: number
  /** Between two asks (default 5 s). */
  readonly every?: Duration.Input
  /** Draws the progress line when `out` is interactive (default: on stderr). */
  readonly draw?: (text: string) => void
}

/** Asks `copies` until `atLeast` are proven, or fails with `CopiesTimeout` at the deadline. */
export const waitForCopies = <E>(
  copies: Effect.Effect<FileCopies, E>,
  out: Output,
  options: WaitForCopiesOptions,
) =>
  Effect.gen(function* () {
    const { name, atLeast, timeoutSeconds } = options
    const draw = (text: string) => {
      if (!out.interactive) return
      if (options.draw === undefined) process.stderr.write(text)
      else options.draw(text)
    }
    const deadline = (yield* Clock.currentTimeMillis) + timeoutSeconds * 1000
    for (;;) {
      const now = yield* copies
      draw(`\r\x1b[2Kwaiting for ${atLeast}: ${copiesLine(now)}`)
      if (now.verified >= atLeast) {
        draw("\r\x1b[2K")
        return now
      }
      if ((yield* Clock.currentTimeMillis) >= deadline) {
        draw("\r\x1b[2K")
        return yield* new CopiesTimeout({
          message: `${name} has ${copiesLine(now)} after ${timeoutSeconds} s, not ${atLeast}`,
        })
      }
      yield* Effect.sleep(options.every ?? "5 seconds")
    }
  })
