import type { BlobHash, BlobStoreService } from "@save-dweb/blob-store"
import { Stream } from "effect"

/** A stored blob's bytes in one array (a manifest, a collection's hash sequence: small). */
export const readBlob = (store: BlobStoreService, hash: BlobHash) =>
  Stream.runFold(
    store.read(hash),
    () => new Uint8Array(0),
    (acc, chunk) => {
      const out = new Uint8Array(acc.length + chunk.length)
      out.set(acc)
      out.set(chunk, acc.length)
      return out
    },
  )
