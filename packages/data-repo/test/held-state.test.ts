// The saved sync state: its JSON codec (old `{ v: 1, roots }` values still read) and a store
// over bytes that takes a damaged value as empty.
import { assert, describe, it } from "@effect/vitest"
import type { BlobHash } from "@save-dweb/blob-store"
import { Effect, Option, Result } from "effect"
import fc from "fast-check"
import {
  decodeHeldState,
  emptyHeldState,
  encodeHeldState,
  type HeldState,
  syncStateOver,
} from "../src/index.ts"

const utf8 = new TextEncoder()
const hash = fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => h as BlobHash)
const repoKey = fc.string({ minLength: 1, maxLength: 20 }).map((k) => `VLD0:${k}`)

const hashSets = fc
  .dictionary(repoKey, fc.uniqueArray(hash, { minLength: 1, maxLength: 4 }))
  .map((d) => new Map(Object.entries(d).map(([k, v]) => [k, new Set(v)])))

const heldState: fc.Arbitrary<HeldState> = fc.record({
  roots: fc.dictionary(repoKey, hash).map((d) => new Map(Object.entries(d))),
  pins: hashSets,
  synced: fc.dictionary(repoKey, hash).map((d) => new Map(Object.entries(d))),
  dropped: hashSets,
})

const normal = (state: HeldState) => ({
  roots: [...state.roots].sort(),
  pins: [...state.pins].map(([k, v]) => [k, [...v].sort()]).sort(),
  synced: [...(state.synced ?? [])].sort(),
  dropped: [...(state.dropped ?? [])].map(([k, v]) => [k, [...v].sort()]).sort(),
})

describe("held state codec", () => {
  it("any state decodes to itself", () => {
    fc.assert(
      fc.property(heldState, (state) => {
        const decoded = Effect.runSync(decodeHeldState(encodeHeldState(state)))
        assert.deepStrictEqual(normal(decoded), normal(state))
      }),
      { numRuns: 300 },
    )
  })

  it.effect("a value saved before pins were kept reads with no pins", () =>
    Effect.gen(function* () {
      const root = "a".repeat(64)
      const old = utf8.encode(JSON.stringify({ v: 1, roots: { "VLD0:r": root } }))
      const state = yield* decodeHeldState(old)
      assert.deepStrictEqual([...state.roots], [["VLD0:r", root]])
      assert.strictEqual(state.pins.size, 0)
      assert.strictEqual(state.dropped?.size ?? 0, 0)
    }),
  )

  it.effect("a value that is not a version-1 state of blob hashes is refused", () =>
    Effect.gen(function* () {
      for (const value of [
        { v: 2, roots: {} },
        { v: 1, roots: { r: "not a hash" } },
        { v: 1, roots: {}, pins: { r: ["Z".repeat(64)] } },
      ]) {
        const result = yield* Effect.result(decodeHeldState(utf8.encode(JSON.stringify(value))))
        assert.isTrue(Result.isFailure(result), JSON.stringify(value))
      }
      assert.isTrue(Result.isFailure(yield* Effect.result(decodeHeldState(new Uint8Array([0xff])))))
    }),
  )

  it.effect("a store over bytes forgets a group saved empty and reads a damaged one as empty", () =>
    Effect.gen(function* () {
      const saved = new Map<string, Uint8Array>()
      const store = syncStateOver<never>({
        load: (g) => Effect.sync(() => Option.fromNullishOr(saved.get(g))),
        store: (g, b) => Effect.sync(() => void saved.set(g, b)),
        remove: (g) => Effect.sync(() => void saved.delete(g)),
        keys: Effect.sync(() => [...saved.keys()]),
      })
      const root = "b".repeat(64) as BlobHash
      yield* store.save("g", { ...emptyHeldState, roots: new Map([["r", root]]) })
      assert.deepStrictEqual(yield* store.groups, ["g"])
      yield* store.save("g", emptyHeldState)
      assert.deepStrictEqual(yield* store.groups, [])
      saved.set("g", utf8.encode("{"))
      assert.strictEqual((yield* store.load("g")).roots.size, 0)
    }),
  )
})
