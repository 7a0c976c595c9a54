// Who may call what: a caller without the group's key learns nothing, a member calling
// an unserved protocol is told so.
import { assert } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { requestHandler } from "../tunnels.ts"
import {
  aliceAndBob,
  type ComplianceIt,
  collect,
  echo,
  groupKey,
  node,
  type Suite,
  text,
} from "./support.ts"

export const accessTests = (it: ComplianceIt, { timeout }: Suite) => {
  it.effect(
    "a caller without the group's key is refused with Unauthorized and the handler never runs",
    () =>
      Effect.gen(function* () {
        const key = yield* groupKey
        const strangerKey = yield* groupKey
        const [bob, carol] = yield* Effect.all([node("bob"), node("carol")], {
          concurrency: 2,
        })
        let runs = 0
        yield* bob.serve(
          "secret/1",
          requestHandler(() =>
            Effect.sync(() => {
              runs++
              return text("the secret")
            }),
          ),
          { keys: [key] },
        )
        const stranger = yield* carol.connect((yield* bob.route).blob, strangerKey)
        const refused = yield* Effect.flip(stranger.request("secret/1", text("let me in")))
        assert.strictEqual(refused._tag, "Unauthorized")
        const streamed = yield* Effect.flip(
          collect(stranger.open("secret/1", Stream.make(text("let me in")))),
        )
        assert.strictEqual(streamed._tag, "Unauthorized")
        // Not even whether the protocol exists leaks out.
        const probing = yield* Effect.flip(stranger.request("nothing-here/1", text("?")))
        assert.strictEqual(probing._tag, "Unauthorized")
        assert.strictEqual(runs, 0)
      }),
    timeout,
  )

  it.effect(
    "a member calling a protocol nobody serves gets UnknownProtocol",
    () =>
      Effect.gen(function* () {
        const { key, alice, bob } = yield* aliceAndBob
        yield* echo(bob, key)
        const peer = yield* alice.connect((yield* bob.route).blob, key)
        const error = yield* Effect.flip(peer.request("nothing-here/1", text("?")))
        assert.strictEqual(error._tag, "UnknownProtocol")
      }),
    timeout,
  )
}
