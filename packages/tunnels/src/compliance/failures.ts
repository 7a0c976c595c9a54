// A handler that fails, dies, throws or fails mid-stream: the caller gets a RemoteError
// with the error's tag (after the bytes sent before it), and the node keeps serving.
import { assert } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { requestHandler } from "../tunnels.ts"
import {
  aliceAndBob,
  type ComplianceIt,
  chunked,
  echo,
  NotFound,
  pattern,
  type Suite,
  str,
  text,
} from "./support.ts"

export const failureTests = (it: ComplianceIt, { timeout }: Suite) => {
  it.effect(
    "a failing handler gives RemoteError and the node keeps serving",
    () =>
      Effect.gen(function* () {
        const { key, alice, bob } = yield* aliceAndBob
        yield* echo(bob, key)
        yield* bob.serve(
          "typed/1",
          requestHandler(() => Effect.fail(new NotFound({ message: "no such blob" }))),
          { keys: [key] },
        )
        yield* bob.serve(
          "defect/1",
          requestHandler(() => Effect.die(new Error("handler bug"))),
          { keys: [key] },
        )
        yield* bob.serve(
          "throws/1",
          (): Stream.Stream<Uint8Array> => {
            throw new Error("thrown while making the stream")
          },
          { keys: [key] },
        )
        yield* bob.serve(
          "midway/1",
          () =>
            Stream.concat(
              chunked(pattern(100_000), 10_000),
              Stream.fail(new NotFound({ message: "ran out" })),
            ),
          { keys: [key] },
        )
        const peer = yield* alice.connect((yield* bob.route).blob, key)

        const typed = yield* Effect.flip(peer.request("typed/1", text("x")))
        assert.deepInclude(typed, {
          _tag: "RemoteError",
          tag: "NotFound",
          message: "no such blob",
        })
        const defect = yield* Effect.flip(peer.request("defect/1", text("x")))
        assert.deepInclude(defect, { _tag: "RemoteError", tag: "Defect", message: "handler bug" })
        const thrown = yield* Effect.flip(peer.request("throws/1", text("x")))
        assert.deepInclude(thrown, { _tag: "RemoteError", tag: "Defect" })

        // The bytes before the failure arrive, in order, then the error.
        let received = 0
        const midway = yield* peer.open("midway/1", Stream.make(text("x"))).pipe(
          Stream.runForEach((chunk) => Effect.sync(() => (received += chunk.length))),
          Effect.flip,
        )
        assert.deepInclude(midway, { _tag: "RemoteError", tag: "NotFound", message: "ran out" })
        assert.strictEqual(received, 100_000)

        assert.strictEqual(str(yield* peer.request("echo/1", text("still here"))), "re: still here")
      }),
    timeout,
  )
}
