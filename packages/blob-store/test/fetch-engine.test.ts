import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { runFetch } from "../src/fetch-engine.ts"
import type { BlobHash } from "../src/hash.ts"
import type { FetchEvent, Source } from "../src/source.ts"

const hashOf = (n: number) => n.toString(16).padStart(64, "0") as BlobHash
const source: Source = { _tag: "MemorySource", id: "peer", storeId: "peer" }

/** A target whose first write of `lost` lands nothing, as a write lost to a race would. */
const flakyTarget = (lost: BlobHash) => {
  const stored = new Map<BlobHash, number>()
  const fetched: Array<BlobHash> = []
  let dropped = false
  return {
    stored,
    fetched,
    target: {
      has: (h: BlobHash) => Effect.sync(() => stored.has(h)),
      size: (h: BlobHash) => Effect.sync(() => stored.get(h) ?? 0),
      readSmall: () => Effect.die("not a collection fetch"),
      protect: () => Effect.void,
      fetchBlob: (h: BlobHash, _s: Source, onProgress: (d: number, t?: number) => void) =>
        Effect.sync(() => {
          fetched.push(h)
          onProgress(10, 10)
          if (h === lost && !dropped) {
            dropped = true
            return
          }
          stored.set(h, 10)
        }),
      cancellable: () => true,
    },
  }
}

describe("the fetch engine", () => {
  it.effect("fetches again a blob that a source reported done but the store lacks", () =>
    Effect.gen(function* () {
      const hash = hashOf(1)
      const { target, stored, fetched } = flakyTarget(hash)
      const events: Array<FetchEvent> = []
      const result = yield* runFetch(
        { hash, kind: "blob", sources: [source] },
        target,
        { timeoutMillis: 1_000 },
        (e) => events.push(e),
      )
      assert.isTrue(stored.has(hash))
      assert.deepStrictEqual(fetched, [hash, hash])
      assert.strictEqual(result.blobs, 1, "counted once")
    }),
  )

  it.effect("takes a blob the store holds complete without asking any source", () =>
    Effect.gen(function* () {
      const hash = hashOf(2)
      const { target, stored, fetched } = flakyTarget(hashOf(99))
      stored.set(hash, 10)
      const result = yield* runFetch(
        { hash, kind: "blob", sources: [source] },
        target,
        { timeoutMillis: 1_000 },
        () => {},
      )
      assert.deepStrictEqual(fetched, [])
      assert.strictEqual(result.blobs, 1)
    }),
  )
})
