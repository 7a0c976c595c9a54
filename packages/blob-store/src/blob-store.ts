import { Context, type Effect, type Stream } from "effect"
import type { CollectionEntry } from "./collection.ts"
import type {
  BlobNotFound,
  FetchError,
  InvalidCollection,
  InvalidRange,
  StoreError,
} from "./errors.ts"
import type { BlobHash } from "./hash.ts"
import type { FetchEvent, FetchRequest, FetchResult, Source } from "./source.ts"

/** `length` omitted: to the end of the blob. */
export interface ByteRange {
  readonly offset: number
  readonly length?: number
}

/** How `read` hands out a blob's bytes. */
export interface ReadOptions {
  /**
   * Read into this buffer rather than a fresh one per read: every chunk is then a view of
   * it, at most its length, and valid only until the next chunk is pulled (the read
   * after it overwrites it). For a consumer that is done with each chunk before it asks
   * for the next, such as the crypto package's decryptor, it saves an allocation and a
   * copy per read; anything that keeps chunks must not pass it. An empty buffer is
   * ignored.
   */
  readonly into?: Uint8Array
}

/** What the store keeps on purpose: a pinned blob or a collection (with its members). */
export interface StoredRoot {
  readonly hash: BlobHash
  readonly kind: "blob" | "collection"
}

export interface DeleteResult {
  /** Blobs whose bytes left the store (the root, and members nothing else holds). */
  readonly freed: ReadonlyArray<BlobHash>
}

export interface CollectionChanges {
  /** Added or replaced by name. */
  readonly set?: ReadonlyArray<CollectionEntry>
  readonly remove?: ReadonlyArray<string>
}

/**
 * Content-addressed storage and verified transfer of opaque bytes.
 *
 * Keeping rules (the same in every layer):
 * - `add*` and `fetch` of a blob pin it; `createCollection` and `fetch` of a
 *   collection keep the collection and its members. A collection takes over
 *   the pins of its members when created, so removing a member later frees it.
 * - `delete` drops a root (pin or collection) and frees every blob that no
 *   other root holds. Pins are a set, not counts.
 */
export interface BlobStoreService {
  readonly addBytes: (bytes: Uint8Array) => Effect.Effect<BlobHash, StoreError>
  /** Copies the file into the store (the original may change or go afterwards). */
  readonly addPath: (path: string) => Effect.Effect<BlobHash, StoreError>
  /** Streams to a temp file in the store, so memory stays bounded whatever the size. */
  readonly addStream: <E>(
    stream: Stream.Stream<Uint8Array, E>,
  ) => Effect.Effect<BlobHash, E | StoreError>
  readonly read: (
    hash: BlobHash,
    range?: ByteRange,
    options?: ReadOptions,
  ) => Stream.Stream<Uint8Array, BlobNotFound | InvalidRange | StoreError>
  /**
   * The blob's bytes from its start while `fetch` (this store's `fetch`, or any effect
   * that ends with `hash` held here) brings it: in order as they arrive, so the first
   * bytes come long before the last. They are handed out before the whole blob is checked
   * against its hash, so a reader that passes them on must authenticate them itself (the
   * data repo's file records are sealed); a fetch that fails fails the stream, and ending
   * the stream early interrupts the fetch. A blob already here is read as `read` does.
   */
  readonly readWhileFetching: <E>(
    hash: BlobHash,
    fetch: Effect.Effect<unknown, E>,
  ) => Stream.Stream<Uint8Array, E | BlobNotFound | StoreError>
  readonly has: (hash: BlobHash) => Effect.Effect<boolean, StoreError>
  readonly size: (hash: BlobHash) => Effect.Effect<number, BlobNotFound | StoreError>
  /** Roots, sorted by hash. */
  readonly list: () => Effect.Effect<ReadonlyArray<StoredRoot>, StoreError>
  /** Every member must be in the store. Entries are sorted by name (UTF-8 bytes). */
  readonly createCollection: (
    entries: ReadonlyArray<CollectionEntry>,
  ) => Effect.Effect<BlobHash, BlobNotFound | InvalidCollection | StoreError>
  readonly readCollection: (
    root: BlobHash,
  ) => Effect.Effect<ReadonlyArray<CollectionEntry>, BlobNotFound | InvalidCollection | StoreError>
  /**
   * Returns the new root. The old root is deleted (its members stay if the new
   * one holds them) unless `keepOld`.
   */
  readonly updateCollection: (
    root: BlobHash,
    changes: CollectionChanges,
    options?: { readonly keepOld?: boolean },
  ) => Effect.Effect<BlobHash, BlobNotFound | InvalidCollection | StoreError>
  readonly exportBlob: (
    hash: BlobHash,
    path: string,
  ) => Effect.Effect<void, BlobNotFound | StoreError>
  /** Writes each member to `dir/<name>`. */
  readonly exportCollection: (
    root: BlobHash,
    dir: string,
  ) => Effect.Effect<void, BlobNotFound | InvalidCollection | StoreError>
  /** Idempotent: a hash that is not a root frees nothing. Returns once the files are gone. */
  readonly delete: (hash: BlobHash) => Effect.Effect<DeleteResult, StoreError>
  readonly fetch: (request: FetchRequest) => Effect.Effect<FetchResult, FetchError>
  /** The same fetch, as progress events ending with `Done`. */
  readonly fetchWithProgress: (request: FetchRequest) => Stream.Stream<FetchEvent, FetchError>
  /** How another store reaches this one. */
  readonly source: () => Effect.Effect<Source, StoreError>
  /**
   * Durability barrier: returns once everything added, pinned, collected or deleted before
   * the call is on disk, so a process killed right after keeps it. Call it before telling
   * the network about what was stored (e.g. publishing a new root).
   */
  readonly flush: Effect.Effect<void, StoreError>
}

export class BlobStore extends Context.Service<BlobStore, BlobStoreService>()(
  "@save-dweb/blob-store/BlobStore",
) {}
