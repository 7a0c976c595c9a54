// Per group, in memory, what this instance holds of other members' repos (`HeldState`):
// loaded from the `SyncStateStore` on first use, saved after each change. Repo handles track
// the pins they make here; `syncAll` reads and changes both halves, and drops a repo's pins
// that its current collection no longer names (a member's pin never outlives the owner's
// delete). It also keeps, per repo, the files this member dropped (`unpin` of a file the sync
// held) and the owner's root when the held one is a local copy of it minus those files.
import type { BlobHash } from "@save-dweb/blob-store"
import type { RecordKey } from "@save-dweb/dht-records"
import { Effect } from "effect"
import { emptyHeldState, type HeldState, type SyncStateStore } from "./held-state.ts"

/** One group's holdings, changed in place; `save` writes them. */
export interface GroupHoldings {
  readonly roots: Map<RecordKey, BlobHash>
  readonly pins: Map<RecordKey, Set<BlobHash>>
  readonly synced: Map<RecordKey, BlobHash>
  readonly dropped: Map<RecordKey, Set<BlobHash>>
}

/** What a repo handle needs: pins of another member's blobs, tracked before they are made. */
export interface PinTracker {
  /** Tracks (and saves) a pin of `hash` for `repo`, before the store pins it. */
  readonly track: (groupKey: RecordKey, repo: RecordKey, hash: BlobHash) => Effect.Effect<void>
  /**
   * Stops tracking (and saves); true when no repo of a loaded group tracks the hash any more,
   * so the store's pin (a set, not counts) may go.
   */
  readonly untrack: (groupKey: RecordKey, repo: RecordKey, hash: BlobHash) => Effect.Effect<boolean>
  /** Whether a handle on `repo` pinned `hash` here (a `pin`, or a read that fetched it). */
  readonly isTracked: (
    groupKey: RecordKey,
    repo: RecordKey,
    hash: BlobHash,
  ) => Effect.Effect<boolean>
}

export interface Holdings extends PinTracker {
  readonly of: (groupKey: RecordKey) => Effect.Effect<GroupHoldings>
  readonly save: (groupKey: RecordKey) => Effect.Effect<void>
  /** Of `hashes`, those no repo of a loaded group tracks as a pin. */
  readonly unpinned: (hashes: Iterable<BlobHash>) => ReadonlyArray<BlobHash>
  /** Forgets the group (its saved state too); returns what it held. */
  readonly forget: (groupKey: RecordKey) => Effect.Effect<HeldState>
  /** Every saved group's state, loaded (the start-up sweep's view). */
  readonly saved: Effect.Effect<ReadonlyArray<readonly [RecordKey, GroupHoldings]>>
}

export const makeHoldings = (syncState: SyncStateStore | undefined): Holdings => {
  const byGroup = new Map<RecordKey, GroupHoldings>()

  const of = (groupKey: RecordKey) =>
    Effect.gen(function* () {
      const inMemory = byGroup.get(groupKey)
      if (inMemory !== undefined) return inMemory
      const loaded = syncState === undefined ? emptyHeldState : yield* syncState.load(groupKey)
      // Loaded concurrently by another fiber meanwhile: keep the first.
      const again = byGroup.get(groupKey)
      if (again !== undefined) return again
      const holdings: GroupHoldings = {
        roots: new Map(loaded.roots),
        pins: new Map([...loaded.pins].map(([repo, hashes]) => [repo, new Set(hashes)])),
        synced: new Map(loaded.synced ?? []),
        dropped: new Map(
          [...(loaded.dropped ?? [])].map(([repo, hashes]) => [repo, new Set(hashes)]),
        ),
      }
      byGroup.set(groupKey, holdings)
      return holdings
    })

  const save = (groupKey: RecordKey) =>
    Effect.gen(function* () {
      const holdings = byGroup.get(groupKey)
      if (syncState === undefined || holdings === undefined) return
      for (const sets of [holdings.pins, holdings.dropped])
        for (const [repo, hashes] of sets) if (hashes.size === 0) sets.delete(repo)
      yield* syncState.save(groupKey, holdings)
    })

  const tracked = (hash: BlobHash) =>
    [...byGroup.values()].some((g) => [...g.pins.values()].some((hashes) => hashes.has(hash)))

  return {
    of,
    save,
    track: (groupKey, repo, hash) =>
      Effect.gen(function* () {
        const { pins } = yield* of(groupKey)
        const hashes = pins.get(repo) ?? new Set<BlobHash>()
        if (hashes.has(hash)) return
        hashes.add(hash)
        pins.set(repo, hashes)
        yield* save(groupKey)
      }),
    untrack: (groupKey, repo, hash) =>
      Effect.gen(function* () {
        const hashes = (yield* of(groupKey)).pins.get(repo)
        if (hashes?.delete(hash) === true) yield* save(groupKey)
        return !tracked(hash)
      }),
    isTracked: (groupKey, repo, hash) =>
      Effect.map(of(groupKey), ({ pins }) => pins.get(repo)?.has(hash) === true),
    unpinned: (hashes) => [...hashes].filter((hash) => !tracked(hash)),
    forget: (groupKey) =>
      Effect.gen(function* () {
        const held = yield* of(groupKey)
        byGroup.delete(groupKey)
        if (syncState !== undefined) yield* syncState.save(groupKey, emptyHeldState)
        return held
      }),
    saved: Effect.gen(function* () {
      const keys = syncState === undefined ? [] : yield* syncState.groups
      const all = new Set([...keys, ...byGroup.keys()])
      return yield* Effect.forEach([...all], (key) =>
        Effect.map(of(key), (holdings) => [key, holdings] as const),
      )
    }),
  }
}
