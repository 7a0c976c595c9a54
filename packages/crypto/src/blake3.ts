// BLAKE3-256, the hash Iroh names blobs by (the plain, unkeyed hash of the
// blob's bytes). hash-wasm's WebAssembly build: see README for why.

import { Effect, Stream } from "effect"
import { createBLAKE3, type IHasher } from "hash-wasm"
import { type PublicBytes, publicKind } from "./branded.ts"
import { InvalidHash } from "./errors.ts"

/** A BLAKE3-256 hash (32 bytes), e.g. an Iroh blob hash. */
export type Blake3Hash = PublicBytes<"Blake3Hash">
export const Blake3Hash = publicKind("Blake3Hash", 32, (input) => new InvalidHash(input))

// One instance for one-shot hashing: init, update and digest run in one
// synchronous call, so no two callers can interleave on it.
const oneShot = await createBLAKE3()

/** BLAKE3-256 of `bytes`. */
export const blake3 = (bytes: Uint8Array): Blake3Hash =>
  oneShot.init().update(bytes).digest("binary") as Blake3Hash

/** An incremental hasher: feed bytes in any pieces, then read the hash once. */
export interface Blake3Hasher {
  readonly update: (bytes: Uint8Array) => void
  readonly digest: () => Blake3Hash
}

const wrap = (hasher: IHasher): Blake3Hasher => ({
  update: (bytes) => {
    hasher.update(bytes)
  },
  digest: () => hasher.digest("binary") as Blake3Hash,
})

/** A fresh incremental hasher (its own WebAssembly instance). */
export const makeBlake3Hasher: Effect.Effect<Blake3Hasher> = Effect.map(
  Effect.promise(() => createBLAKE3()),
  wrap,
)

/** BLAKE3-256 of everything a byte stream emits, in constant memory. */
export const blake3Stream = Effect.fnUntraced(function* <E, R>(
  stream: Stream.Stream<Uint8Array, E, R>,
) {
  const hasher = yield* makeBlake3Hasher
  yield* Stream.runForEachArray(stream, (chunks) =>
    Effect.sync(() => {
      for (const chunk of chunks) hasher.update(chunk)
    }),
  )
  return hasher.digest()
})
