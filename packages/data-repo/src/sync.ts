import type { BlobHash, FetchEvent, Source } from "@save-dweb/blob-store"
import type { RecordKey } from "@save-dweb/dht-records"
import type { RepoPointer } from "@save-dweb/group"
import type { Effect } from "effect"
import type { DataRepoError } from "./repos.ts"

export interface SyncOptions {
  /** How to reach a repo's owner: its store's source (e.g. its Iroh address asked over its tunnel). */
  readonly ownerSources: (repo: RepoPointer) => ReadonlyArray<Source>
  /** Other holders (members, backup servers): used only when the group's policy is `any`. */
  readonly otherSources?: ReadonlyArray<Source>
  readonly onProgress?: (event: SyncEvent) => Effect.Effect<void>
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
