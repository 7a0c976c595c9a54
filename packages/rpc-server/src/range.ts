// One byte range of a `Range` header (RFC 9110 §14): `bytes=a-b`, `bytes=a-`, `bytes=-n`.
// Several ranges, other units and malformed headers are ignored (the whole file is sent),
// as the RFC allows; a range starting at or past the end is unsatisfiable (416).
import { Stream } from "effect"

export type RangeRequest =
  | { readonly _tag: "Whole" }
  | { readonly _tag: "Part"; readonly start: number; readonly end: number }
  | { readonly _tag: "Unsatisfiable" }

const SINGLE = /^bytes=(\d*)-(\d*)$/

/** What to send of a file of `size` bytes for a `Range` header (`end` is inclusive). */
export const parseRange = (header: string | undefined, size: number): RangeRequest => {
  if (header === undefined) return { _tag: "Whole" }
  const match = SINGLE.exec(header.trim())
  if (match === null) return { _tag: "Whole" }
  const [, first = "", last = ""] = match
  if (first === "" && last === "") return { _tag: "Whole" }
  if (first === "") {
    // A suffix: the last n bytes.
    const n = Number(last)
    if (!Number.isSafeInteger(n)) return { _tag: "Whole" }
    if (n === 0 || size === 0) return { _tag: "Unsatisfiable" }
    return { _tag: "Part", start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(first)
  if (!Number.isSafeInteger(start)) return { _tag: "Whole" }
  const end = last === "" ? Math.max(start, size - 1) : Number(last)
  if (!Number.isSafeInteger(end) || end < start) return { _tag: "Whole" }
  if (start >= size) return { _tag: "Unsatisfiable" }
  return { _tag: "Part", start, end: Math.min(end, size - 1) }
}

/** Bytes `start` to `end` (inclusive) of a stream, which is read only as far as `end`. */
export const sliceStream = <E, R>(
  stream: Stream.Stream<Uint8Array, E, R>,
  start: number,
  end: number,
): Stream.Stream<Uint8Array, E, R> =>
  Stream.suspend(() => {
    let position = 0
    return stream.pipe(
      Stream.takeWhile(() => position <= end),
      Stream.map((chunk) => {
        const at = position
        position += chunk.length
        return chunk.subarray(
          Math.max(0, start - at),
          Math.max(0, Math.min(chunk.length, end + 1 - at)),
        )
      }),
      Stream.filter((chunk) => chunk.length > 0),
    )
  })
