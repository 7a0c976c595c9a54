// Which queued blobs go together into one `GetMany`: the fetch engine's side of batching.
// A collection's members come without sizes, so every blob counts as small until a source
// says otherwise (a `Found` header, or `TooLarge` to a batch).
import { Effect, Option, Queue } from "effect"
import type { BlobHash } from "./hash.ts"
import { MAX_BATCH_BLOB_BYTES, MAX_BATCH_BYTES, MAX_BATCH_HASHES } from "./tunnel-protocol.ts"

export interface BatchPlan {
  /**
   * `first` and, if it may go in a batch, more hashes taken from the queue: at most
   * `MAX_BATCH_HASHES`, an even share of the queue per worker (so every source gets some),
   * the known sizes within `MAX_BATCH_BYTES`. Hashes that cannot join go back to the queue.
   */
  readonly gather: (first: BlobHash) => Effect.Effect<ReadonlyArray<BlobHash>>
  /** A source answered `TooLarge`: past `MAX_BATCH_BLOB_BYTES` the blob comes alone. */
  readonly tooLarge: (hash: BlobHash, size: number) => void
}

export const makeBatchPlan = (options: {
  readonly queue: Queue.Queue<BlobHash>
  readonly landed: ReadonlySet<BlobHash>
  /** Workers of the sources still alive. */
  readonly workers: () => number
  /** The size of a blob if a source told it. */
  readonly sizeOf: (hash: BlobHash) => number | undefined
}): BatchPlan => {
  const told = new Map<BlobHash, number>()
  const known = (hash: BlobHash) => told.get(hash) ?? options.sizeOf(hash) ?? 0
  return {
    gather: (first) =>
      Effect.gen(function* () {
        if (known(first) > MAX_BATCH_BLOB_BYTES) return [first]
        const batch = [first]
        let bytes = known(first)
        const queued = yield* Queue.size(options.queue)
        const share = Math.ceil((queued + 1) / Math.max(1, options.workers()))
        const limit = Math.min(MAX_BATCH_HASHES, share)
        const passed: Array<BlobHash> = []
        for (let i = 0; i < queued && batch.length < limit; i++) {
          const next = yield* Queue.poll(options.queue)
          if (Option.isNone(next)) break
          const hash = next.value
          if (options.landed.has(hash)) continue
          const size = known(hash)
          if (size > MAX_BATCH_BLOB_BYTES || bytes + size > MAX_BATCH_BYTES) passed.push(hash)
          else {
            batch.push(hash)
            bytes += size
          }
        }
        yield* Queue.offerAll(options.queue, passed)
        return batch
      }),
    tooLarge: (hash, size) => {
      told.set(hash, size)
    },
  }
}
