// Per group, the blobs its repos reference that this instance stored or fetched for it (own
// collections, what it read, pinned or replicated). Only these are served on the group's
// tunnel protocol, so a member of one group cannot probe a store shared with another group
// for that group's blobs. Kept in memory: after a restart a blob is served again once this
// process reads, pins or syncs it.
import {
  BlobHash,
  type BlobNotFound,
  type BlobStoreService,
  type InvalidRange,
  type StoreError,
} from "@save-dweb/blob-store"
import type { RecordKey } from "@save-dweb/dht-records"
import { Effect, Schema } from "effect"
import { readBlob } from "./read-blob.ts"

export interface GroupBlobs {
  readonly remember: (groupKey: RecordKey, hashes: Iterable<BlobHash>) => Effect.Effect<void>
  /**
   * Remembers every blob of a collection held here: the root, which is Iroh's hash
   * sequence (32-byte hashes: the names blob, then the members), and what it names.
   */
  readonly rememberCollection: (
    groupKey: RecordKey,
    root: BlobHash,
  ) => Effect.Effect<void, BlobNotFound | InvalidRange | StoreError>
  /** Blobs that left the store are no longer the group's: keeps the set as big as the store. */
  readonly forget: (groupKey: RecordKey, freed: ReadonlyArray<BlobHash>) => Effect.Effect<void>
  /** Forgets every blob of the group. */
  readonly drop: (groupKey: RecordKey) => Effect.Effect<void>
  readonly has: (groupKey: RecordKey, hash: BlobHash) => Effect.Effect<boolean>
}

const decodeHash = Schema.decodeSync(BlobHash)

export const makeGroupBlobs = (store: BlobStoreService): GroupBlobs => {
  const byGroup = new Map<RecordKey, Set<BlobHash>>()
  const remember = (groupKey: RecordKey, hashes: Iterable<BlobHash>) =>
    Effect.sync(() => {
      const known = byGroup.get(groupKey) ?? new Set<BlobHash>()
      byGroup.set(groupKey, known)
      for (const hash of hashes) known.add(hash)
    })
  return {
    remember,
    rememberCollection: (groupKey, root) =>
      Effect.gen(function* () {
        const sequence = yield* readBlob(store, root)
        const hashes = [root]
        for (let i = 0; i + 32 <= sequence.length; i += 32) {
          hashes.push(decodeHash(Buffer.from(sequence.subarray(i, i + 32)).toString("hex")))
        }
        yield* remember(groupKey, hashes)
      }),
    forget: (groupKey, freed) =>
      Effect.sync(() => {
        const known = byGroup.get(groupKey)
        if (known !== undefined) for (const hash of freed) known.delete(hash)
      }),
    drop: (groupKey) => Effect.sync(() => void byGroup.delete(groupKey)),
    has: (groupKey, hash) => Effect.sync(() => byGroup.get(groupKey)?.has(hash) ?? false),
  }
}
