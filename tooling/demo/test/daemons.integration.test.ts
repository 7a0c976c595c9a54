// The README's main job as `npm run demo` runs it: two daemon processes on a private
// Veilid testnet driven through the built CLI. Run inside `veilid-testnet exec` (the
// package's `test` script does); the CLI and daemon are built first (turbo).
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type DaemonStep, daemonStepIds, runDaemonDemo } from "../src/daemons.ts"

it.live(
  "alice's daemon shares a file with bob's through the CLI: joined by link, downloaded, identical",
  () =>
    Effect.gen(function* () {
      const steps: Array<DaemonStep> = []
      const size = 1_500_007
      const result = yield* runDaemonDemo({
        file: { _tag: "Random", bytes: size },
        report: (step) => steps.push(step),
      })
      expect(steps.map((s) => s.id)).toEqual([...daemonStepIds])
      expect(result.bytes).toBe(size)
      const text = (id: string) => steps.find((s) => s.id === id)?.lines.join("\n") ?? ""
      expect(text("daemons")).toMatch(/alice: pid \d+, API at http:\/\/127\.0\.0\.1:\d+/)
      expect(text("list")).toMatch(/remote-only\s+from alice/)
      const [a, b] = [...text("verify").matchAll(/sha256 \w+\s+([0-9a-f]{64})/g)].map((m) => m[1])
      expect(a).toBeDefined()
      expect(b).toBe(a)
      // The invite's secret is never printed, neither in the link nor in bob's join command.
      const all = steps.flatMap((s) => [s.title, ...s.lines]).join("\n")
      expect(all).toContain("secret=<redacted>")
      expect(all).not.toMatch(/secret=(?!<redacted>)/)
    }),
  { timeout: 400_000 },
)
