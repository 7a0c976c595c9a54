import { Effect } from "effect"
import fc from "fast-check"
import { SecretKey } from "../src/index.ts"

export const bytes = (maxLength: number): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ maxLength }).map((b) => new Uint8Array(b))

export const secretKey: fc.Arbitrary<SecretKey> = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => Effect.runSync(SecretKey.fromBytes(b)))

/** Cuts `data` at arbitrary points, with empty pieces mixed in. */
export const splitAt = (data: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)
  const pieces: Array<Uint8Array> = []
  let start = 0
  for (const point of points) {
    pieces.push(data.subarray(start, point))
    start = point
  }
  pieces.push(data.subarray(start), new Uint8Array(0))
  return pieces
}

export const cuts = fc.array(fc.nat(), { maxLength: 12 })

export const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((byte, i) => byte === b[i])
