import type { BlobHash, FetchEvent, Source } from "@save-dweb/blob-store"
import type { RecordKey } from "@save-dweb/dht-records"
import type { RepoPointer } from "@save-dweb/group"
import type { TunnelsShape } from "@save-dweb/tunnels"
import type { Duration, Effect } from "effect"
import type { DataRepoError } from "./errors.ts"

export interface SyncOptions {
  /**
   * How to reach a repo's owner. Default: found through the owner's published route (its
   * tunnel, and its Iroh node as it tells it over the tunnel); needs `tunnels`.
   */
  readonly ownerSources?: (repo: RepoPointer) => ReadonlyArray<Source>
  /**
   * Other holders (members, backup servers): used only when the group's policy is `any`.
   * Default: every other member's published route (tunnel + Iroh node).
   */
  readonly otherSources?: ReadonlyArray<Source>
  /** Finds sources through published routes (default: the instance's `tunnels`). */
  readonly tunnels?: TunnelsShape
  /**
   * Syncing as the backup server whose descriptor record is this: it is not its own
   * source, and in an `owner-only` group it copies only the repos whose records list it.
   */
  readonly asBackup?: string
  readonly onProgress?: (event: SyncEvent) => Effect.Effect<void>
}

/**
 * Where `syncAll` keeps, per group, the root it holds for each repo (so what an earlier
 * process synced is freed once repos move on). `save` with an empty map forgets the group.
 * Failures are the store's to handle: `syncAll` goes on with what it holds in memory.
 */
export interface SyncStateStore {
  readonly load: (groupKey: RecordKey) => Effect.Effect<ReadonlyMap<RecordKey, BlobHash>>
  readonly save: (
    groupKey: RecordKey,
    roots: ReadonlyMap<RecordKey, BlobHash>,
  ) => Effect.Effect<void>
}

export interface KeepSyncedOptions extends SyncOptions {
  readonly onResult?: (result: SyncResult) => Effect.Effect<void>
  /** Passes start at least this long after the previous one ended (default 1 s). */
  readonly minInterval?: Duration.Input
  /** After a pass with failures, the next comes after this at the latest (default 1 s)… */
  readonly retryInitial?: Duration.Input
  /** …doubling after each failing pass up to this (default 1 min); a clean pass resets it. */
  readonly retryMax?: Duration.Input
  /**
   * After a pass that copied something new, the next one comes after this at the latest
   * (default 2 s), change or not: the last of a burst of writes is not left to the watch.
   */
  readonly settle?: Duration.Input
  /**
   * The longest wait between passes, change or not (default: none, only changes and
   * retries start a pass). Bounds how stale a copy gets when a watch notification is lost.
   */
  readonly maxIdle?: Duration.Input
}

/** What `syncAll` reports as it goes. */
export type SyncEvent =
  | { readonly _tag: "RepoStarted"; readonly repo: RecordKey; readonly root: BlobHash }
  | { readonly _tag: "RepoProgress"; readonly repo: RecordKey; readonly event: FetchEvent }
  | { readonly _tag: "RepoSynced"; readonly repo: RecordKey; readonly root: BlobHash }
  | { readonly _tag: "RepoUnchanged"; readonly repo: RecordKey; readonly root: BlobHash }
  | { readonly _tag: "RepoFailed"; readonly repo: RecordKey; readonly error: DataRepoError }
  | { readonly _tag: "Purged"; readonly freed: ReadonlyArray<BlobHash> }

export interface SyncResult {
  /** Repos whose current collection is now held here, with its root. */
  readonly synced: ReadonlyMap<RecordKey, BlobHash>
  /** Repos that could not be synced this time (owner offline, no source has them, ...). */
  readonly failed: ReadonlyMap<RecordKey, DataRepoError>
  /** Blobs freed because no repo references them any more. */
  readonly freed: ReadonlyArray<BlobHash>
}
