// `file add --wait-copies N`: asking until N copies are proven, with a progress line.
import type { FileCopies, FileCopy } from "@save-dweb/client"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { copiesLine, waitForCopies } from "../src/copies.ts"
import { makeOutput, type Output } from "../src/output.ts"

const holder = (name: string, status: FileCopy["status"]): FileCopy => ({
  kind: "backup",
  id: `backup:${name}`,
  name,
  status,
  since: status === "verified" ? 1 : null,
  verifiedAt: status === "verified" ? 2 : null,
  how: status === "verified" ? "proof" : null,
})

const answer = (copies: ReadonlyArray<FileCopy>): FileCopies => ({
  group: "g",
  repo: "r",
  name: "clip.mp4",
  hash: "h",
  checkedAt: 0,
  verified: copies.filter((c) => c.status === "verified").length,
  target: null,
  reached: null,
  copies,
})

/** Answers in turn (the last one from then on), counting the asks. */
const answers = (...list: ReadonlyArray<FileCopies>) => {
  let asked = 0
  return {
    asked: () => asked,
    copies: Effect.sync(() => list[Math.min(asked++, list.length - 1)] as FileCopies),
  }
}

const output = (interactive: boolean): Output => ({ ...makeOutput(false), interactive })

describe("file add --wait-copies", () => {
  it("asks until enough copies are proven, drawing each answer as progress, then clears the line", async () => {
    const { asked, copies } = answers(
      answer([]),
      answer([holder("Archive", "unknown")]),
      answer([holder("Archive", "verified"), holder("Bob", "unknown")]),
    )
    const drawn: Array<string> = []
    const done = await Effect.runPromise(
      waitForCopies(copies, output(true), {
        name: "clip.mp4",
        atLeast: 1,
        timeoutSeconds: 60,
        every: "1 millis",
        draw: (text) => drawn.push(text),
      }),
    )
    expect(done.verified).toBe(1)
    expect(asked()).toBe(3)
    expect(drawn).toEqual([
      "\r\x1b[2Kwaiting for 1: 0 verified copies off this device",
      "\r\x1b[2Kwaiting for 1: 0 verified copies off this device; no answer from Archive",
      "\r\x1b[2Kwaiting for 1: 1 verified copy off this device (Archive); no answer from Bob",
      "\r\x1b[2K",
    ])
  })

  it("fails with CopiesTimeout at the deadline, an unknown holder never counted; no progress line when not interactive", async () => {
    const { copies } = answers(answer([holder("Archive", "unknown")]))
    const drawn: Array<string> = []
    const error = await Effect.runPromise(
      Effect.flip(
        waitForCopies(copies, output(false), {
          name: "clip.mp4",
          atLeast: 1,
          timeoutSeconds: 0,
          draw: (text) => drawn.push(text),
        }),
      ),
    )
    expect(error._tag).toBe("CopiesTimeout")
    expect(error.message).toBe(
      "clip.mp4 has 0 verified copies off this device; no answer from Archive after 0 s, not 1",
    )
    expect(drawn).toEqual([])
    expect(copiesLine(answer([holder("Archive", "unknown")]))).toBe(
      "0 verified copies off this device; no answer from Archive",
    )
  })
})
