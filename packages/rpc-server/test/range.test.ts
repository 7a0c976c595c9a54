import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { parseRange } from "../src/index.ts"
import { sliceStream } from "../src/range.ts"
import { bytesOf, pattern } from "./support.ts"

describe("Range headers", () => {
  it("one range of the file, clamped to its end; suffixes count from the end", () => {
    assert.deepStrictEqual(parseRange("bytes=0-9", 100), { _tag: "Part", start: 0, end: 9 })
    assert.deepStrictEqual(parseRange("bytes=90-", 100), { _tag: "Part", start: 90, end: 99 })
    assert.deepStrictEqual(parseRange("bytes=50-1000", 100), { _tag: "Part", start: 50, end: 99 })
    assert.deepStrictEqual(parseRange("bytes=-10", 100), { _tag: "Part", start: 90, end: 99 })
    assert.deepStrictEqual(parseRange("bytes=-1000", 100), { _tag: "Part", start: 0, end: 99 })
    assert.deepStrictEqual(parseRange("bytes=99-99", 100), { _tag: "Part", start: 99, end: 99 })
  })

  it("a range starting at or past the end, or empty, is unsatisfiable", () => {
    assert.deepStrictEqual(parseRange("bytes=100-", 100), { _tag: "Unsatisfiable" })
    assert.deepStrictEqual(parseRange("bytes=150-200", 100), { _tag: "Unsatisfiable" })
    assert.deepStrictEqual(parseRange("bytes=-0", 100), { _tag: "Unsatisfiable" })
    assert.deepStrictEqual(parseRange("bytes=0-", 0), { _tag: "Unsatisfiable" })
  })

  it("no header, other units, several ranges and malformed ones mean the whole file", () => {
    for (const header of [
      undefined,
      "items=0-1",
      "bytes=0-1,5-6",
      "bytes=9-2",
      "bytes=a-b",
      "bytes=-",
      "bytes 0-1",
    ]) {
      assert.deepStrictEqual(parseRange(header, 100), { _tag: "Whole" }, String(header))
    }
  })

  it.effect("slicing a chunked stream gives exactly the bytes asked for", () =>
    Effect.gen(function* () {
      const bytes = pattern(1000)
      const chunks = Stream.fromIterable(
        Array.from({ length: 10 }, (_, i) => bytes.subarray(i * 100, (i + 1) * 100)),
      )
      for (const [start, end] of [
        [0, 999],
        [0, 0],
        [99, 100],
        [150, 849],
        [999, 999],
        [300, 399],
      ] as const) {
        assert.deepStrictEqual(
          yield* bytesOf(sliceStream(chunks, start, end)),
          bytes.subarray(start, end + 1),
          `${start}-${end}`,
        )
      }
    }),
  )

  it.effect("slicing stops reading the source after the range's end", () =>
    Effect.gen(function* () {
      let pulled = 0
      const source = Stream.fromIterable(
        Array.from({ length: 100 }, () => new Uint8Array(10)),
      ).pipe(Stream.tap(() => Effect.sync(() => void pulled++)))
      yield* bytesOf(sliceStream(source, 0, 24))
      assert.isAtMost(pulled, 4)
    }),
  )
})
