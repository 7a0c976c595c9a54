// Request/response calls: a reply per request, and concurrent calls kept apart.
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { aliceAndBob, type ComplianceIt, echo, type Suite, str, text } from "./support.ts"

export const callTests = (it: ComplianceIt, { timeout }: Suite) => {
  it.effect(
    "a request gets its reply, small or empty",
    () =>
      Effect.gen(function* () {
        const { key, alice, bob } = yield* aliceAndBob
        yield* echo(bob, key)
        const peer = yield* alice.connect((yield* bob.route).blob, key)
        assert.strictEqual(str(yield* peer.request("echo/1", text("hello"))), "re: hello")
        assert.strictEqual(str(yield* peer.request("echo/1", new Uint8Array(0))), "re: ")
      }),
    timeout,
  )

  it.effect(
    "concurrent calls each get their own reply",
    () =>
      Effect.gen(function* () {
        const { key, alice, bob } = yield* aliceAndBob
        yield* echo(bob, key)
        const peer = yield* alice.connect((yield* bob.route).blob, key)
        const replies = yield* Effect.forEach(
          Array.from({ length: 12 }, (_, i) => i),
          (i) => Effect.map(peer.request("echo/1", text(`n${i}`)), str),
          { concurrency: "unbounded" },
        )
        assert.deepStrictEqual(
          replies,
          Array.from({ length: 12 }, (_, i) => `re: n${i}`),
        )
      }),
    timeout,
  )
}
