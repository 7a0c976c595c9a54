// Replication of other members' repos, outside the repo handle (as hyperdrive keeps
// mirroring out of the drive): `syncAll` copies every other member's current collection
// and frees what no synced collection holds any more; what it holds per repo is kept in
// memory, or in a `SyncStateStore` across restarts.
import type {
  BlobHash,
  BlobStoreService,
  FetchEvent,
  Source,
  StoreError,
} from "@save-dweb/blob-store"
import type { DhtRecordsShape, RecordKey } from "@save-dweb/dht-records"
import type { Group, RepoPointer } from "@save-dweb/group"
import type { TunnelsShape } from "@save-dweb/tunnels"
import { Effect, Option, Stream } from "effect"
import type { DataRepoError } from "./errors.ts"
import type { GroupBlobs } from "./group-blobs.ts"
import { backupsOf } from "./listed-backups.ts"
import { POINTER_SUBKEY, RepoRecord } from "./record.ts"
import type { SourceDiscovery } from "./source-discovery.ts"

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

export interface SyncContext {
  readonly records: DhtRecordsShape
  readonly store: BlobStoreService
  readonly blobs: GroupBlobs
  readonly discovery: SourceDiscovery
  /** Finds sources when a call is given no `tunnels`. */
  readonly tunnels?: TunnelsShape | undefined
  readonly syncState?: SyncStateStore | undefined
}

export interface Sync {
  readonly syncAll: (group: Group, options: SyncOptions) => Effect.Effect<SyncResult, DataRepoError>
  /** Drops every root held for the group (and its saved state); returns the freed hashes. */
  readonly purge: (groupKey: RecordKey) => Effect.Effect<ReadonlyArray<BlobHash>, StoreError>
}

export const makeSync = (context: SyncContext): Sync => {
  const { records, store, blobs, discovery, syncState } = context
  const openRecord = (group: Group, key: RecordKey) =>
    records.open(RepoRecord, key, { encryptionKey: group.keys.dhtValues })

  /** Per group: the root this instance holds for each other member's repo. */
  const syncedRoots = new Map<RecordKey, Map<RecordKey, BlobHash>>()

  /** The roots held for a group's repos: in memory, else as saved by an earlier process. */
  const heldFor = (groupKey: RecordKey) =>
    Effect.gen(function* () {
      const inMemory = syncedRoots.get(groupKey)
      if (inMemory !== undefined) return inMemory
      const loaded = new Map(syncState === undefined ? [] : yield* syncState.load(groupKey))
      syncedRoots.set(groupKey, loaded)
      return loaded
    })

  /**
   * The repos to sync. A backup server (`asBackup`) in an `owner-only` group copies only the
   * repos whose owner listed it: the others' owners did not authorise it to serve their
   * data. A record that cannot be read is kept (synced or failed, never purged for it).
   */
  const reposToSync = (group: Group, policy: "any" | "owner-only", asBackup: string | undefined) =>
    Effect.gen(function* () {
      const pointers = (yield* group.repos).filter((p) => p.slot !== group.slot)
      if (asBackup === undefined || policy === "any") return pointers
      const listed = yield* Effect.forEach(
        pointers,
        (p) =>
          Effect.scoped(Effect.flatMap(openRecord(group, p.repoKey), backupsOf)).pipe(
            Effect.map((backups) => backups.some((b) => b.record === asBackup)),
            Effect.orElseSucceed(() => true),
          ),
        { concurrency: 8 },
      )
      return pointers.filter((_, i) => listed[i])
    })

  const syncAll = Effect.fn("DataRepos.syncAll")(function* (group: Group, options: SyncOptions) {
    const report = options.onProgress ?? (() => Effect.void)
    const policy = (yield* group.info).sourcePolicy
    const pointers = yield* reposToSync(group, policy, options.asBackup)
    const held = yield* heldFor(group.key)
    let changed = false
    const drop: Array<BlobHash> = []
    const synced = new Map<RecordKey, BlobHash>()
    const failed = new Map<RecordKey, DataRepoError>()
    const freed: Array<BlobHash> = []

    const tunnels = options.tunnels ?? context.tunnels
    const syncOne = (repo: RepoPointer) =>
      Effect.gen(function* () {
        const record = yield* openRecord(group, repo.repoKey)
        const current = yield* record.get(POINTER_SUBKEY, { refresh: true })
        if (Option.isNone(current)) return undefined
        const root = current.value.value.root
        if (held.get(repo.repoKey) === root && (yield* store.has(root))) {
          // Held since an earlier process: serve it on the group's tunnel again.
          if (!(yield* blobs.has(group.key, root))) {
            yield* blobs.rememberCollection(group.key, root)
          }
          yield* report({ _tag: "RepoUnchanged", repo: repo.repoKey, root })
          return root
        }
        const others = policy === "any"
        const found = yield* discovery.find(group, record, tunnels, {
          owner: options.ownerSources === undefined,
          others: others && options.otherSources === undefined,
          ...(options.asBackup === undefined ? {} : { exclude: options.asBackup }),
        })
        const sources = [
          ...(options.ownerSources?.(repo) ?? []),
          ...(others ? (options.otherSources ?? []) : []),
          ...found,
        ]
        yield* report({ _tag: "RepoStarted", repo: repo.repoKey, root })
        yield* store
          .fetchWithProgress({ hash: root, kind: "collection", sources })
          .pipe(
            Stream.runForEach((event) =>
              report({ _tag: "RepoProgress", repo: repo.repoKey, event }),
            ),
          )
        yield* blobs.rememberCollection(group.key, root)
        yield* report({ _tag: "RepoSynced", repo: repo.repoKey, root })
        return root
      }).pipe(Effect.scoped)

    for (const repo of pointers) {
      const result = yield* Effect.result(syncOne(repo))
      if (result._tag === "Failure") {
        failed.set(repo.repoKey, result.failure)
        yield* report({ _tag: "RepoFailed", repo: repo.repoKey, error: result.failure })
        continue
      }
      if (result.success === undefined) continue
      synced.set(repo.repoKey, result.success)
      const previous = held.get(repo.repoKey)
      if (previous === result.success) continue
      held.set(repo.repoKey, result.success)
      changed = true
      if (previous !== undefined) drop.push(previous)
    }
    // Repos that left the group (or were revoked, or no longer list this backup): drop
    // what was held for them.
    const current = new Set(pointers.map((p) => p.repoKey))
    for (const [repoKey, root] of [...held]) {
      if (current.has(repoKey)) continue
      held.delete(repoKey)
      changed = true
      drop.push(root)
    }
    // Saved before deleting: a crash in between leaves unreferenced roots (the backup
    // server sweeps them at start), never a saved root that is gone.
    if (changed && syncState !== undefined) yield* syncState.save(group.key, held)
    for (const root of drop) freed.push(...(yield* store.delete(root)).freed)
    yield* blobs.forget(group.key, freed)
    if (freed.length > 0) yield* report({ _tag: "Purged", freed })
    return { synced, failed, freed } satisfies SyncResult
  })

  const purge = Effect.fn("DataRepos.purge")(function* (groupKey: RecordKey) {
    const roots = [...(yield* heldFor(groupKey)).values()]
    syncedRoots.delete(groupKey)
    yield* blobs.drop(groupKey)
    if (syncState !== undefined) yield* syncState.save(groupKey, new Map())
    const freed: Array<BlobHash> = []
    for (const root of roots) freed.push(...(yield* store.delete(root)).freed)
    return freed
  })

  return { syncAll, purge }
}
