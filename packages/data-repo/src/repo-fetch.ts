// How a repo handle gets a blob it does not hold: from the sources given or found, with
// the manifest's size as the one every source must announce, progress reported when
// asked, and another member's blob tracked as a pin before it is fetched.
import type {
  BlobHash,
  BlobStoreService,
  FetchResult,
  ReadOptions,
  Source,
} from "@save-dweb/blob-store"
import type { RecordKey } from "@save-dweb/dht-records"
import type { Group } from "@save-dweb/group"
import { Effect, Stream } from "effect"
import { NotLocal } from "./errors.ts"
import type { GroupBlobs } from "./group-blobs.ts"
import type { PinTracker } from "./holdings.ts"

/** Told how a fetch advances: verified bytes so far, and the blob's size once known. */
export type OnFetchProgress = (bytesDone: number, bytesTotal: number) => Effect.Effect<void>

export interface RepoFetchDeps<E> {
  readonly store: BlobStoreService
  readonly pins: PinTracker
  readonly groupBlobs: GroupBlobs
  readonly group: Group
  /** The repo's record key. */
  readonly key: RecordKey
  /** This node's own repo: its blobs are its files, not pins. */
  readonly writable: boolean
  /** The sources found when the caller gives none. */
  readonly discover: Effect.Effect<ReadonlyArray<Source>, E>
}

export const makeRepoFetch = <E>({
  store,
  pins,
  groupBlobs,
  group,
  key,
  writable,
  discover,
}: RepoFetchDeps<E>) => {
  /**
   * `store.fetch`, telling `onProgress` (when given) how it advances. `storedSize` (the
   * manifest's) is what every source must announce: one that announces another is
   * dropped before it writes a byte.
   */
  const fetchReporting = (
    request: { hash: BlobHash; kind: "blob" | "collection"; sources: ReadonlyArray<Source> },
    storedSize: number | undefined,
    onProgress: OnFetchProgress | undefined,
  ) => {
    const sized = storedSize === undefined ? request : { ...request, expectedSize: storedSize }
    return onProgress === undefined
      ? store.fetch(sized)
      : store.fetchWithProgress(sized).pipe(
          Stream.runFoldEffect(
            () => undefined as FetchResult | undefined,
            (result, event) =>
              event._tag === "Progress"
                ? Effect.as(onProgress(event.bytesDone, event.bytesTotal), result)
                : Effect.succeed(event._tag === "Done" ? event.result : result),
          ),
          Effect.flatMap((result) =>
            result === undefined
              ? Effect.die(new Error("a fetch ended without its result"))
              : Effect.succeed(result),
          ),
        )
  }

  /**
   * Fetches another member's blob (a pin in the store), tracked first: a crash after the
   * fetch leaves a tracked pin (dropped once the owner deletes), never an untracked one.
   * Flushed before it is used: a pin Iroh had not committed would come back from a kill
   * as bytes on disk that no tag, and so no sweep or sync, reaches.
   */
  const fetchPinned = (
    hash: BlobHash,
    kind: "blob" | "collection",
    sources: ReadonlyArray<Source>,
    storedSize?: number,
    onProgress?: OnFetchProgress,
  ) =>
    Effect.gen(function* () {
      const request = { hash, kind, sources }
      if (writable) return yield* fetchReporting(request, storedSize, onProgress)
      yield* pins.track(group.key, key, hash)
      return yield* fetchReporting(request, storedSize, onProgress).pipe(
        Effect.tap(() => store.flush),
        Effect.onError(() => pins.untrack(group.key, key, hash)),
      )
    })

  /**
   * The bytes of `hash`, fetched first when not held here: from `given`, else as found;
   * `storedSize` as in `fetchReporting`.
   */
  const ensureLocal = (
    hash: BlobHash,
    given: ReadonlyArray<Source> | undefined,
    storedSize?: number,
    onProgress?: OnFetchProgress,
  ) =>
    Effect.gen(function* () {
      if (!(yield* store.has(hash))) {
        const sources = given ?? (yield* discover)
        if (sources.length === 0) return yield* new NotLocal({ repo: key, hash })
        yield* fetchPinned(hash, "blob", sources, storedSize, onProgress)
      }
      yield* groupBlobs.remember(group.key, [hash])
    })

  /**
   * The bytes of `hash` from its start: read here when held, else handed out while the
   * fetch (from `given`, else as found; `storedSize` as in `fetchReporting`) brings them,
   * so the first come long before the last. They are not yet checked against the hash:
   * the caller authenticates them (a file's records are sealed under the group's file key),
   * and a fetch that fails fails the stream. `options` apply to a blob held here (the
   * store's `read`); one being fetched comes in fresh chunks.
   */
  const readFetching = (
    hash: BlobHash,
    given: ReadonlyArray<Source> | undefined,
    storedSize?: number,
    onProgress?: OnFetchProgress,
    options?: ReadOptions,
  ) =>
    Stream.unwrap(
      Effect.gen(function* () {
        const bring = ensureLocal(hash, given, storedSize, onProgress)
        if (!(yield* store.has(hash))) return store.readWhileFetching(hash, bring)
        // Held here: `bring` only remembers it.
        yield* bring
        return store
          .read(hash, undefined, options)
          .pipe(Stream.catchTag("InvalidRange", (e) => Stream.die(e)))
      }),
    )

  return { fetchPinned, ensureLocal, readFetching }
}
