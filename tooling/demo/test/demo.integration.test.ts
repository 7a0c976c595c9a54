// The demo's flow on a real private Veilid testnet with real Iroh nodes, with a small
// file: run inside `veilid-testnet exec` (the package's `test` script does).
import { existsSync } from "node:fs"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { runDemo, type Step, stepIds } from "../src/demo.ts"

it.live(
  "alice's file reaches bob through the DHT, her tunnel and Iroh: verified, decrypted, identical",
  () =>
    Effect.gen(function* () {
      const steps: Array<Step> = []
      const size = 300_001 // not a multiple of any chunk size
      const result = yield* runDemo({
        file: { _tag: "Random", bytes: size },
        report: (step) => steps.push(step),
      })

      expect(steps.map((step) => step.id)).toEqual([...stepIds])
      expect(result.recordKey).toMatch(/^VLD0:[\w-]{43}:[\w-]{43}$/)
      expect(result.link).toMatch(/^save\+dweb:invite\?v=1&cap=read&group=VLD0:/)
      expect(result.plaintextBytes).toBe(size)
      // Stored bytes are ciphertext: larger than the file by the format's overhead.
      expect(result.storedBytes).toBeGreaterThan(size)
      expect(result.fetched.hash).toBe(result.blobHash)
      expect(result.fetched.bytes).toBe(result.storedBytes)
      expect(result.bobBytes).toBe(size)
      expect(result.bobHash).toBe(result.aliceHash)

      const lines = (id: string) => steps.find((step) => step.id === id)?.lines.join("\n") ?? ""
      expect(lines("locate")).toMatch(/another group's key: refused \(Unauthorized\)/)
      // The Iroh address travelled over the tunnel; the DHT record never held it.
      expect(lines("locate")).toMatch(/addresses \d+\.\d+\.\d+\.\d+:\d+/)
      // Printed output never carries the group secret.
      const secret = /[?&]secret=([^&]+)/.exec(result.link)?.[1] ?? "missing"
      expect(steps.flatMap((step) => [step.title, ...step.lines]).join("\n")).not.toContain(secret)
      expect(lines("invite")).toContain("secret=<redacted>")
      // Shut down: the stores' temp directories are gone.
      for (const dir of result.storeDirs) expect(existsSync(dir)).toBe(false)
    }),
  { timeout: 300_000 },
)
