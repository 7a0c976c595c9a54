import type { BlobHash, BlobStoreService } from "@save-dweb/blob-store"
import { concatBytes } from "@save-dweb/crypto"
import { Effect, Stream } from "effect"

/** A stored blob's bytes in one array (a manifest, a collection's hash sequence: small). */
export const readBlob = (store: BlobStoreService, hash: BlobHash) =>
  Effect.map(Stream.runCollect(store.read(hash)), (chunks) => concatBytes(...chunks))
