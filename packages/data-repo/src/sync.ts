// Replication of other members' repos, outside the repo handle (as hyperdrive keeps
// mirroring out of the drive): `syncAll` copies every other member's current collection
// and frees what no synced collection holds any more, and the pins of blobs a repo's
// current collection no longer names; what it holds per repo is `Holdings`' (in memory,
// or in a `SyncStateStore` across restarts). `sweep` frees, at start, what nothing holds.
// A member may drop a file it synced (`drop`): the repo is then held as a local collection
// of the owner's minus the dropped files, and a sync fetches the owner's collection blob by
// blob without them.
import {
  type BlobHash,
  type BlobStoreService,
  type CollectionEntry,
  decodeHashSeq,
  type FetchEvent,
  type FetchRequest,
  InvalidCollection,
  type Source,
  type StoreError,
} from "@save-dweb/blob-store"
import type { DhtRecordsShape, OpenedRecord, RecordKey } from "@save-dweb/dht-records"
import type { Group, RepoPointer } from "@save-dweb/group"
import type { TunnelsShape } from "@save-dweb/tunnels"
import { Effect, Option, Semaphore, Stream } from "effect"
import type { DataRepoError } from "./errors.ts"
import type { GroupBlobs } from "./group-blobs.ts"
import type { GroupHoldings, Holdings } from "./holdings.ts"
import { backupsOf } from "./listed-backups.ts"
import { readBlob } from "./read-blob.ts"
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

/** A member's say over which synced files of another member's repo it keeps here. */
export interface SyncedFiles {
  /**
   * When the repo's synced collection holds `hash`: stops holding it and remembers it as
   * dropped, so later passes do not fetch it again. Returns the hashes freed.
   */
  readonly drop: (
    groupKey: RecordKey,
    repo: RecordKey,
    hash: BlobHash,
  ) => Effect.Effect<ReadonlyArray<BlobHash>, DataRepoError>
  /**
   * Forgets a drop (the member keeps the file again), and puts the blob back in the held
   * collection when it is here; true when there was one.
   */
  readonly undrop: (
    groupKey: RecordKey,
    repo: RecordKey,
    hash: BlobHash,
  ) => Effect.Effect<boolean, DataRepoError>
}

export interface Sync extends SyncedFiles {
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

  /**
   * `root` (held here) without the members in `dropped`: a new local collection when any is
   * in it (`root` kept: the caller deletes it once the state is saved), else `root`.
   */
  const withoutDropped = (root: BlobHash, dropped: ReadonlySet<BlobHash> | undefined) =>
    Effect.gen(function* () {
      const entries = yield* store.readCollection(root)
      const remove = entries.filter((e) => dropped?.has(e.hash) === true).map((e) => e.name)
      if (remove.length === 0) return root
      return yield* store.updateCollection(root, { remove }, { keepOld: true })
    })

  /**
   * The owner's collection `root` without the `dropped` members: its hash sequence and names
   * and every other member fetched as blobs, then collected here; the loose pins of the
   * owner's hash sequence and names go. Returns the local root and the owner's entries.
   */
  const fetchWithout = (
    request: Omit<FetchRequest, "kind">,
    dropped: ReadonlySet<BlobHash>,
    onEvent: (event: FetchEvent) => Effect.Effect<void>,
  ) =>
    Effect.gen(function* () {
      const fetchBlob = (hash: BlobHash) =>
        store.fetchWithProgress({ ...request, hash, kind: "blob" }).pipe(Stream.runForEach(onEvent))
      const root = request.hash
      yield* fetchBlob(root)
      const meta = decodeHashSeq(yield* readBlob(store, root))?.[0]
      if (meta === undefined)
        return yield* new InvalidCollection({ hash: root, reason: "not a hash sequence" })
      if (!(yield* store.has(meta))) yield* fetchBlob(meta)
      const entries = yield* store.readCollection(root)
      const kept = entries.filter((e) => !dropped.has(e.hash))
      yield* Effect.forEach(
        kept,
        (e) => Effect.flatMap(store.has(e.hash), (has) => (has ? Effect.void : fetchBlob(e.hash))),
        { concurrency: 4, discard: true },
      )
      const local = yield* store.createCollection(kept)
      // None of them in it any more: the same collection as the owner's, held as it is.
      if (local !== root) {
        yield* store.delete(root)
        yield* store.delete(meta)
      }
      return { local, entries }
    })

  const syncAll = Effect.fn("DataRepos.syncAll")(function* (group: Group, options: SyncOptions) {
    const report = options.onProgress ?? (() => Effect.void)
    const policy = (yield* group.info).sourcePolicy
    const pointers = yield* reposToSync(group, policy, options.asBackup)
    const { roots: held, pins, synced: syncedRoots, dropped } = yield* holdings.of(group.key)
    let changed = false
    const drop: Array<BlobHash> = []
    const dropPins: Array<BlobHash> = []
    const synced = new Map<RecordKey, BlobHash>()
    const failed = new Map<RecordKey, DataRepoError>()

    const tunnels = options.tunnels ?? context.tunnels
    /**
     * The owner's `root` held here: the local root holding it (itself, or a collection of it
     * minus the dropped files) and the owner's entries.
     */
    const fetchRoot = (repo: RepoPointer, record: OpenedRecord<RepoRecord>, root: BlobHash) =>
      Effect.gen(function* () {
        const local = held.get(repo.repoKey)
        const syncedRoot = syncedRoots.get(repo.repoKey) ?? local
        if (local !== undefined && syncedRoot === root && (yield* store.has(local))) {
          // Held since an earlier process: serve it on the group's tunnel again.
          if (!(yield* blobs.has(group.key, local))) {
            yield* blobs.rememberCollection(group.key, local)
          }
          yield* report({ _tag: "RepoUnchanged", repo: repo.repoKey, root })
          // The owner's entries: what is held, and what was dropped from it.
          const entries: Array<CollectionEntry> = [...(yield* store.readCollection(local))]
          for (const hash of dropped.get(repo.repoKey) ?? []) entries.push({ name: hash, hash })
          return { local, entries }
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
        const onEvent = (event: FetchEvent) =>
          report({ _tag: "RepoProgress", repo: repo.repoKey, event })
        const without = dropped.get(repo.repoKey)
        const fetched: { local: BlobHash; entries: ReadonlyArray<CollectionEntry> } =
          without === undefined || without.size === 0
            ? yield* store.fetchWithProgress({ hash: root, kind: "collection", sources }).pipe(
                Stream.runForEach(onEvent),
                Effect.andThen(store.readCollection(root)),
                Effect.map((entries) => ({ local: root, entries })),
              )
            : yield* fetchWithout({ hash: root, sources }, without, onEvent)
        yield* blobs.rememberCollection(group.key, fetched.local)
        yield* report({ _tag: "RepoSynced", repo: repo.repoKey, root })
        return fetched
      })

    /** The repo's current root, held here, and its pins that the collection no longer names. */
    const syncOne = (repo: RepoPointer) =>
      Effect.gen(function* () {
        const before = held.get(repo.repoKey)
        // Pins made after the pointer is read may be of a newer collection: not judged now.
        const pinned = [...(pins.get(repo.repoKey) ?? [])]
        const record = yield* openRecord(group, repo.repoKey)
        const current = yield* record.get(POINTER_SUBKEY, { refresh: true })
        if (Option.isNone(current)) return undefined
        const root = current.value.value.root
        const fetched = yield* fetchRoot(repo, record, root)
        // A file dropped while this pass fetched is still in what it fetched.
        const local = yield* withoutDropped(fetched.local, dropped.get(repo.repoKey))
        const named = new Set([root, ...fetched.entries.map((e) => e.hash)])
        return {
          before,
          root,
          local,
          replaced: local === fetched.local ? undefined : fetched.local,
          named,
          stale: pinned.filter((hash) => !named.has(hash)),
        }
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
      const { before, root, local, replaced, named, stale } = result.success
      const now = held.get(repo.repoKey)
      if (now !== before) {
        // A drop or a pin replaced the held root while this pass fetched: what the pass
        // made goes (it may hold a file just dropped), and the repo is left to the next
        // pass, which starts from what is held now.
        for (const made of [local, replaced]) {
          if (made !== undefined && made !== now && made !== before) drop.push(made)
        }
        continue
      }
      synced.set(repo.repoKey, root)
      // The owner deleted these (or moved on from this manifest): so does this member.
      untrack(repo.repoKey, stale)
      // A dropped file the owner changed or deleted is no longer there to fetch.
      const without = dropped.get(repo.repoKey)
      for (const hash of [...(without ?? [])]) {
        if (named.has(hash)) continue
        without?.delete(hash)
        changed = true
      }
      if (replaced !== undefined && replaced !== held.get(repo.repoKey)) drop.push(replaced)
      if ((syncedRoots.get(repo.repoKey) ?? held.get(repo.repoKey)) !== root) changed = true
      if (local === root) syncedRoots.delete(repo.repoKey)
      else syncedRoots.set(repo.repoKey, root)
      const previous = held.get(repo.repoKey)
      if (previous === local) continue
      held.set(repo.repoKey, local)
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
    for (const repoKey of [...syncedRoots.keys(), ...dropped.keys()]) {
      if (current.has(repoKey)) continue
      syncedRoots.delete(repoKey)
      dropped.delete(repoKey)
      changed = true
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

  // Drops and undrops of one instance, one at a time (a sync pass does not wait for them).
  const changing = Semaphore.makeUnsafe(1)

  /**
   * Holds `next` (made from `held`) for the repo instead of `held`, the owner's root being
   * `owner`: saved, then `held` deleted; the hashes freed. Undefined when a sync pass
   * replaced `held` meanwhile: then `next` goes, and the caller looks again.
   */
  const replaceHeld = (
    groupKey: RecordKey,
    state: GroupHoldings,
    repo: RecordKey,
    held: BlobHash,
    next: BlobHash,
    owner: BlobHash,
  ) =>
    Effect.gen(function* () {
      const current = state.roots.get(repo)
      if (current !== held) {
        if (next !== held && next !== current) yield* store.delete(next)
        return undefined
      }
      state.roots.set(repo, next)
      if (next === owner) state.synced.delete(repo)
      else state.synced.set(repo, owner)
      // Saved before the old root goes, as a sync does: a crash leaves a root the sweep frees.
      yield* store.flush
      yield* holdings.save(groupKey)
      const { freed } = yield* store.delete(held)
      yield* store.flush
      yield* blobs.forget(groupKey, freed)
      yield* blobs.rememberCollection(groupKey, next)
      return freed
    })

  const attempts = 3

  const drop = Effect.fn("DataRepos.drop")(function* (
    groupKey: RecordKey,
    repo: RecordKey,
    hash: BlobHash,
  ) {
    const state = yield* holdings.of(groupKey)
    for (let attempt = 0; attempt < attempts; attempt++) {
      const held = state.roots.get(repo)
      if (held === undefined) return []
      const entries = yield* store
        .readCollection(held)
        .pipe(Effect.catchTag("BlobNotFound", () => Effect.succeed([])))
      if (!entries.some((e) => e.hash === hash)) return []
      const without = state.dropped.get(repo) ?? new Set<BlobHash>()
      without.add(hash)
      state.dropped.set(repo, without)
      const next = yield* withoutDropped(held, without)
      const owner = state.synced.get(repo) ?? held
      const freed = yield* replaceHeld(groupKey, state, repo, held, next, owner)
      if (freed !== undefined) return freed
    }
    // Still replaced by sync passes: saved as dropped, the next pass leaves it out.
    yield* holdings.save(groupKey)
    return []
  }, changing.withPermit)

  const undrop = Effect.fn("DataRepos.undrop")(function* (
    groupKey: RecordKey,
    repo: RecordKey,
    hash: BlobHash,
  ) {
    const state = yield* holdings.of(groupKey)
    if (state.dropped.get(repo)?.delete(hash) !== true) return false
    // Back in the held collection, so it stays the owner's minus what is still dropped.
    for (let attempt = 0; attempt < attempts; attempt++) {
      const held = state.roots.get(repo)
      const owner = state.synced.get(repo)
      if (held === undefined || owner === undefined || !(yield* store.has(hash))) break
      const next = yield* store.updateCollection(
        held,
        { set: [{ name: hash, hash }] },
        { keepOld: true },
      )
      if ((yield* replaceHeld(groupKey, state, repo, held, next, owner)) !== undefined) return true
    }
    yield* holdings.save(groupKey)
    return true
  }, changing.withPermit)

  return { syncAll, purge, sweep, drop, undrop }
}
