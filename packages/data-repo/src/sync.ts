// Replication of other members' repos, outside the repo handle (as hyperdrive keeps
// mirroring out of the drive): `syncAll` copies every other member's current collection
// and frees what no synced collection holds any more, and the pins of blobs a repo's
// current collection no longer names; what it holds per repo is `Holdings`' (in memory,
// or in a `SyncStateStore` across restarts). `sweep` frees, at start, what nothing holds.
import type {
  BlobHash,
  BlobStoreService,
  FetchEvent,
  Source,
  StoreError,
} from "@save-dweb/blob-store"
import type { DhtRecordsShape, OpenedRecord, RecordKey } from "@save-dweb/dht-records"
import type { Group, RepoPointer } from "@save-dweb/group"
import type { TunnelsShape } from "@save-dweb/tunnels"
import { Effect, Option, Stream } from "effect"
import type { DataRepoError } from "./errors.ts"
import type { GroupBlobs } from "./group-blobs.ts"
import type { Holdings } from "./holdings.ts"
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

export interface SweepOptions {
  /** The groups this instance still belongs to: saved states of any other are forgotten. */
  readonly groups: ReadonlyArray<RecordKey>
  /** Roots held for reasons of the caller's (its own repos' current roots). */
  readonly keep: Iterable<BlobHash>
}

export interface SyncContext {
  readonly records: DhtRecordsShape
  readonly store: BlobStoreService
  readonly blobs: GroupBlobs
  readonly discovery: SourceDiscovery
  /** Finds sources when a call is given no `tunnels`. */
  readonly tunnels?: TunnelsShape | undefined
  readonly holdings: Holdings
}

export interface Sync {
  readonly syncAll: (group: Group, options: SyncOptions) => Effect.Effect<SyncResult, DataRepoError>
  /** Drops every root held for the group (and its saved state); returns the freed hashes. */
  readonly purge: (groupKey: RecordKey) => Effect.Effect<ReadonlyArray<BlobHash>, StoreError>
  /** Deletes every root of the store that `options.keep` and the groups' holdings do not name. */
  readonly sweep: (options: SweepOptions) => Effect.Effect<ReadonlyArray<BlobHash>, StoreError>
}

export const makeSync = (context: SyncContext): Sync => {
  const { records, store, blobs, discovery, holdings } = context
  const openRecord = (group: Group, key: RecordKey) =>
    records.open(RepoRecord, key, { encryptionKey: group.keys.dhtValues })

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

  /** Deletes each root, then each pin no other repo tracks; the hashes whose bytes left. */
  const deleteAll = (roots: ReadonlyArray<BlobHash>, pins: ReadonlyArray<BlobHash>) =>
    Effect.gen(function* () {
      const freed: Array<BlobHash> = []
      for (const root of roots) freed.push(...(yield* store.delete(root)).freed)
      for (const pin of holdings.unpinned(pins)) freed.push(...(yield* store.delete(pin)).freed)
      return freed
    })

  const syncAll = Effect.fn("DataRepos.syncAll")(function* (group: Group, options: SyncOptions) {
    const report = options.onProgress ?? (() => Effect.void)
    const policy = (yield* group.info).sourcePolicy
    const pointers = yield* reposToSync(group, policy, options.asBackup)
    const { roots: held, pins } = yield* holdings.of(group.key)
    let changed = false
    const drop: Array<BlobHash> = []
    const dropPins: Array<BlobHash> = []
    const synced = new Map<RecordKey, BlobHash>()
    const failed = new Map<RecordKey, DataRepoError>()

    const tunnels = options.tunnels ?? context.tunnels
    const fetchRoot = (repo: RepoPointer, record: OpenedRecord<RepoRecord>, root: BlobHash) =>
      Effect.gen(function* () {
        if (held.get(repo.repoKey) === root && (yield* store.has(root))) {
          // Held since an earlier process: serve it on the group's tunnel again.
          if (!(yield* blobs.has(group.key, root))) {
            yield* blobs.rememberCollection(group.key, root)
          }
          yield* report({ _tag: "RepoUnchanged", repo: repo.repoKey, root })
          return
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
      })

    /** The repo's current root, held here, and its pins that the collection no longer names. */
    const syncOne = (repo: RepoPointer) =>
      Effect.gen(function* () {
        // Pins made after the pointer is read may be of a newer collection: not judged now.
        const pinned = [...(pins.get(repo.repoKey) ?? [])]
        const record = yield* openRecord(group, repo.repoKey)
        const current = yield* record.get(POINTER_SUBKEY, { refresh: true })
        if (Option.isNone(current)) return undefined
        const root = current.value.value.root
        yield* fetchRoot(repo, record, root)
        const named = new Set([root, ...(yield* store.readCollection(root)).map((e) => e.hash)])
        return { root, stale: pinned.filter((hash) => !named.has(hash)) }
      }).pipe(Effect.scoped)

    const untrack = (repoKey: RecordKey, stale: Iterable<BlobHash>) => {
      const hashes = pins.get(repoKey)
      for (const hash of stale) {
        if (hashes?.delete(hash) !== true) continue
        changed = true
        dropPins.push(hash)
      }
    }

    for (const repo of pointers) {
      const result = yield* Effect.result(syncOne(repo))
      if (result._tag === "Failure") {
        failed.set(repo.repoKey, result.failure)
        yield* report({ _tag: "RepoFailed", repo: repo.repoKey, error: result.failure })
        continue
      }
      if (result.success === undefined) continue
      const { root, stale } = result.success
      synced.set(repo.repoKey, root)
      // The owner deleted these (or moved on from this manifest): so does this member.
      untrack(repo.repoKey, stale)
      const previous = held.get(repo.repoKey)
      if (previous === root) continue
      held.set(repo.repoKey, root)
      changed = true
      if (previous !== undefined) drop.push(previous)
    }
    // Repos that left the group (or were revoked, or no longer list this backup): drop
    // what was held and pinned for them.
    const current = new Set(pointers.map((p) => p.repoKey))
    for (const [repoKey, root] of [...held]) {
      if (current.has(repoKey)) continue
      held.delete(repoKey)
      changed = true
      drop.push(root)
    }
    for (const [repoKey, hashes] of [...pins]) {
      if (!current.has(repoKey)) untrack(repoKey, [...hashes])
    }
    // Saved before deleting: a crash in between leaves unreferenced roots and pins (the
    // start-up sweep frees them), never a saved root or pin that is gone. Flushed first, so
    // a saved root is one Iroh committed, and after, so what was freed stays freed.
    if (changed) {
      yield* store.flush
      yield* holdings.save(group.key)
    }
    const freed = yield* deleteAll(drop, dropPins)
    if (drop.length + dropPins.length > 0) yield* store.flush
    yield* blobs.forget(group.key, freed)
    if (freed.length > 0) yield* report({ _tag: "Purged", freed })
    return { synced, failed, freed } satisfies SyncResult
  })

  const purge = Effect.fn("DataRepos.purge")(function* (groupKey: RecordKey) {
    const held = yield* holdings.forget(groupKey)
    yield* blobs.drop(groupKey)
    return yield* deleteAll(
      [...held.roots.values()],
      [...held.pins.values()].flatMap((hashes) => [...hashes]),
    )
  })

  const sweep = Effect.fn("DataRepos.sweep")(function* (sweepOptions: SweepOptions) {
    const members = new Set(sweepOptions.groups)
    const keep = new Set(sweepOptions.keep)
    for (const [groupKey, held] of yield* holdings.saved) {
      if (!members.has(groupKey)) {
        yield* holdings.forget(groupKey)
        continue
      }
      for (const root of held.roots.values()) keep.add(root)
      for (const hashes of held.pins.values()) for (const hash of hashes) keep.add(hash)
    }
    const freed: Array<BlobHash> = []
    for (const root of yield* store.list()) {
      if (!keep.has(root.hash)) freed.push(...(yield* store.delete(root.hash)).freed)
    }
    return freed
  })

  return { syncAll, purge, sweep }
}
