// Byte streams both ways: large, in awkward chunks, arriving ordered and complete.
import { assert } from "@effect/vitest"
import { Effect, Stream } from "effect"
import {
  aliceAndBob,
  BIG,
  type ComplianceIt,
  chunked,
  collect,
  pattern,
  type Suite,
  sha256,
  str,
  text,
} from "./support.ts"

export const streamTests = (it: ComplianceIt, { timeout }: Suite) => {
  it.effect(
    "a 1.5 MiB stream from the handler arrives ordered and complete",
    () =>
      Effect.gen(function* () {
        const { key, alice, bob } = yield* aliceAndBob
        yield* bob.serve(
          "download/1",
          (call) =>
            Stream.unwrap(
              Effect.map(Stream.mkUint8Array(call.input), (req) =>
                chunked(pattern(Number(str(req))), 7_777),
              ),
            ),
          { keys: [key] },
        )
        const peer = yield* alice.connect((yield* bob.route).blob, key)
        const got = yield* collect(peer.open("download/1", Stream.make(text(String(BIG)))))
        assert.strictEqual(got.length, BIG)
        assert.strictEqual(sha256(got), sha256(pattern(BIG)))
      }),
    timeout,
  )

  it.effect(
    "a 1.5 MiB stream to the handler arrives ordered and complete",
    () =>
      Effect.gen(function* () {
        const { key, alice, bob } = yield* aliceAndBob
        yield* bob.serve(
          "upload/1",
          (call) =>
            Stream.fromEffect(
              Effect.map(Stream.mkUint8Array(call.input), (all) =>
                text(`${all.length} ${sha256(all)}`),
              ),
            ),
          { keys: [key] },
        )
        const peer = yield* alice.connect((yield* bob.route).blob, key)
        const body = pattern(BIG)
        const got = yield* collect(peer.open("upload/1", chunked(body, 5_000)))
        assert.strictEqual(str(got), `${BIG} ${sha256(body)}`)
      }),
    timeout,
  )
}
