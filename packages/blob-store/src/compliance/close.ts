import { assert } from "@effect/vitest"
import { Effect } from "effect"
import type { Source } from "../source.ts"
import { bytesOf, type ComplianceIt, ComplianceStores } from "./support.ts"

export const closeTests = (it: ComplianceIt, timeout: number) => {
  it.effect(
    "a closed store refuses calls with StoreClosed and is an unreachable source",
    () =>
      Effect.gen(function* () {
        const { a, b, doomed, closeDoomed } = yield* ComplianceStores
        const hash = yield* a.addBytes(bytesOf(10_000))
        const gone: Source = yield* doomed.source()
        yield* closeDoomed
        assert.strictEqual((yield* Effect.flip(doomed.has(hash)))._tag, "StoreClosed")
        assert.strictEqual((yield* Effect.flip(doomed.addBytes(bytesOf(10))))._tag, "StoreClosed")
        assert.strictEqual((yield* Effect.flip(doomed.list()))._tag, "StoreClosed")
        const started = Date.now()
        const error = yield* Effect.flip(
          b.fetch({ hash, kind: "blob", sources: [gone], timeoutMillis: 1_500 }),
        )
        assert.isBelow(Date.now() - started, 10_000)
        assert.strictEqual(error._tag, "AllSourcesFailed")
        if (error._tag === "AllSourcesFailed")
          assert.include(["SourceUnreachable", "SourceTimeout"], error.failures[0]?._tag)
      }),
    timeout,
  )
}
