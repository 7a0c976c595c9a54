// Reading a file from a byte offset: the bytes a whole read gives from there, read from
// the store only from the record that holds the offset (format v2).
import { assert, describe, it } from "@effect/vitest"
import type { BlobStoreService } from "@save-dweb/blob-store"
import { DEFAULT_CHUNK_SIZE } from "@save-dweb/crypto"
import { MemoryDhtNetwork } from "@save-dweb/dht-records"
import { Effect, Stream } from "effect"
import { decryptedFrom } from "../src/decrypt-file.ts"
import { bytesOf, chunked, participant, pattern } from "./support.ts"

const setup = Effect.gen(function* () {
  const net = yield* MemoryDhtNetwork.make()
  const alice = yield* participant(net)
  const group = yield* alice.groups.create("Offsets", { memberName: "Alice" })
  const repo = yield* alice.repos.create(group, { name: "Alice" })
  return { alice, group, repo }
})

/** `store` whose reads count the bytes they give. */
const counting = (store: BlobStoreService) => {
  const read = { bytes: 0 }
  const counted: BlobStoreService = {
    ...store,
    read: (hash, range) =>
      store
        .read(hash, range)
        .pipe(Stream.tap((chunk) => Effect.sync(() => (read.bytes += chunk.length)))),
  }
  return { store: counted, read }
}

describe("reading from an offset", () => {
  it.live("gives the bytes a whole read gives from any offset, across record boundaries", () =>
    Effect.gen(function* () {
      const { repo } = yield* setup
      const bytes = pattern(3 * DEFAULT_CHUNK_SIZE + 1_234)
      yield* repo.write("clip.mp4", chunked(bytes, 50_000))
      for (const offset of [
        0,
        1,
        DEFAULT_CHUNK_SIZE - 1,
        DEFAULT_CHUNK_SIZE,
        2 * DEFAULT_CHUNK_SIZE + 17,
        bytes.length - 1,
      ]) {
        const read = yield* bytesOf(repo.read("clip.mp4", { offset }))
        assert.deepStrictEqual(read, bytes.subarray(offset), `offset ${offset}`)
      }
    }).pipe(Effect.scoped),
  )

  it.live("reads from the store only the header and the records from the offset on", () =>
    Effect.gen(function* () {
      const { alice, group, repo } = yield* setup
      const bytes = pattern(40 * DEFAULT_CHUNK_SIZE)
      const written = yield* repo.write("long.mp4", chunked(bytes, 65_536))
      const { store, read } = counting(alice.store)
      const fileKey = yield* group.fileKey
      const offset = bytes.length - 1_000
      const tail = yield* bytesOf(decryptedFrom(store, written.hash, fileKey, offset))
      assert.deepStrictEqual(tail, bytes.subarray(offset))
      // The header, the last full record and the (empty) final record: about one record
      // of 40, where a read from the start would read them all.
      assert.isBelow(read.bytes, 2 * DEFAULT_CHUNK_SIZE + 100)
      read.bytes = 0
      yield* bytesOf(decryptedFrom(store, written.hash, fileKey, 0))
      assert.isAbove(read.bytes, bytes.length)
    }).pipe(Effect.scoped),
  )
})
