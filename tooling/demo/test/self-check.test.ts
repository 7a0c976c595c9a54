import { it } from "@effect/vitest"
import { Effect } from "effect"
import { expect } from "vitest"
import { runSelfCheck, type Step } from "../src/self-check.ts"

it.effect("the self-check verifies every step and refuses tampering and damaged links", () =>
  Effect.gen(function* () {
    const steps: Array<Step> = []
    yield* runSelfCheck((step) => steps.push(step), 300_000)
    expect(steps.map((s) => s.title)).toEqual([
      "group secret and its subkeys",
      "file encrypted as a stream",
      "file decrypted and verified",
      "tampered file refused",
      "writer key signs the repo root",
      expect.stringContaining("replicate access"),
      expect.stringContaining("read access"),
      expect.stringContaining("write access (slot 3)"),
      expect.stringContaining("backup server"),
      expect.stringContaining("device pairing"),
      "damaged link refused",
    ])
    expect(steps.find((s) => s.title === "tampered file refused")?.detail).toMatch(/^DecryptError/)
    expect(steps.at(-1)?.detail).toMatch(/^InvalidLink: .*wkey/)
  }),
)
