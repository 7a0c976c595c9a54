// What an instance holds, per group, of other members' repos: the root `syncAll` synced for
// each, the blobs it pinned for each (read, pinned, listed), and the files of each that this
// member dropped (unpinned while a sync held them). Kept by a `SyncStateStore`
// across restarts, as versioned JSON over bytes (Veilid's table store in the backend and
// the backup server, a map in tests).
import { type BlobHash, isBlobHash } from "@save-dweb/blob-store"
import type { RecordKey } from "@save-dweb/dht-records"
import { Data, Effect, Option, Schema } from "effect"

/** One group's holdings, per other member's repo. */
export interface HeldState {
  /** The collection root `syncAll` holds in the store for the repo. */
  readonly roots: ReadonlyMap<RecordKey, BlobHash>
  /** Blobs pinned for the repo outside `syncAll` (a read, `pin`, a listed manifest). */
  readonly pins: ReadonlyMap<RecordKey, ReadonlySet<BlobHash>>
  /**
   * The owner's root that `syncAll` last synced, for the repos whose held root is a local
   * collection of it minus dropped files (so it differs from `roots`).
   */
  readonly synced?: ReadonlyMap<RecordKey, BlobHash>
  /** Files of the repo this member dropped: the sync holds its collection minus these. */
  readonly dropped?: ReadonlyMap<RecordKey, ReadonlySet<BlobHash>>
}

export const emptyHeldState: HeldState = {
  roots: new Map(),
  pins: new Map(),
  synced: new Map(),
  dropped: new Map(),
}

const noneIn = (sets: ReadonlyMap<RecordKey, ReadonlySet<BlobHash>> | undefined) =>
  [...(sets?.values() ?? [])].every((hashes) => hashes.size === 0)

export const isEmptyHeldState = (state: HeldState) =>
  state.roots.size === 0 &&
  (state.synced?.size ?? 0) === 0 &&
  noneIn(state.pins) &&
  noneIn(state.dropped)

/**
 * Where an instance keeps its `HeldState` per group, so a later process frees what an
 * earlier one synced or pinned once the repos move on, and its start-up sweep knows what
 * is referenced. `save` of an empty state forgets the group. Failures are the store's to
 * handle: data-repo goes on with what it holds in memory.
 */
export interface SyncStateStore {
  readonly load: (groupKey: RecordKey) => Effect.Effect<HeldState>
  readonly save: (groupKey: RecordKey, state: HeldState) => Effect.Effect<void>
  /** Groups with a saved state. */
  readonly groups: Effect.Effect<ReadonlyArray<RecordKey>>
}

/** A stored state that does not decode (damaged store, or a newer version's). */
export class InvalidHeldState extends Data.TaggedError("InvalidHeldState")<{
  readonly message: string
}> {}

// `pins` came after `roots` (the backup server saved `{ v: 1, roots }` before), `synced` and
// `dropped` after `pins`: optional. A version before them drops those keys, reads the held
// root as one to replace, and syncs the whole collection again.
const HashSets = Schema.Record(Schema.String, Schema.Array(Schema.String))
const HeldStateWire = Schema.Struct({
  v: Schema.Literal(1),
  roots: Schema.Record(Schema.String, Schema.String),
  pins: Schema.optionalKey(HashSets),
  synced: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  dropped: Schema.optionalKey(HashSets),
})
const HeldStateJson = Schema.fromJsonString(HeldStateWire)

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder("utf-8", { fatal: true })

const encodeSets = (sets: ReadonlyMap<RecordKey, ReadonlySet<BlobHash>> | undefined) => {
  const kept = [...(sets ?? [])].filter(([, hashes]) => hashes.size > 0)
  return kept.length === 0
    ? undefined
    : Object.fromEntries(kept.map(([repo, hashes]) => [repo, [...hashes].sort()]))
}

export const encodeHeldState = (state: HeldState): Uint8Array => {
  const pins = encodeSets(state.pins)
  const dropped = encodeSets(state.dropped)
  return utf8.encode(
    Schema.encodeSync(HeldStateJson)({
      v: 1,
      roots: Object.fromEntries(state.roots),
      ...(pins === undefined ? {} : { pins }),
      ...((state.synced?.size ?? 0) === 0
        ? {}
        : { synced: Object.fromEntries(state.synced ?? []) }),
      ...(dropped === undefined ? {} : { dropped }),
    }),
  )
}

const invalid = (message: string) => new InvalidHeldState({ message })

export const decodeHeldState = (bytes: Uint8Array): Effect.Effect<HeldState, InvalidHeldState> =>
  Effect.gen(function* () {
    const json = yield* Effect.try({
      try: () => fromUtf8.decode(bytes),
      catch: () => invalid("not UTF-8"),
    })
    const wire = yield* Schema.decodeUnknownEffect(HeldStateJson)(json).pipe(
      Effect.mapError((e) => invalid(e.message)),
    )
    const hash = (value: string) =>
      isBlobHash(value) ? Effect.succeed(value) : Effect.fail(invalid(`not a blob hash: ${value}`))
    const hashes = (values: Readonly<Record<string, string>> | undefined) =>
      Effect.gen(function* () {
        const map = new Map<RecordKey, BlobHash>()
        for (const [repo, value] of Object.entries(values ?? {})) map.set(repo, yield* hash(value))
        return map
      })
    const sets = (values: Readonly<Record<string, ReadonlyArray<string>>> | undefined) =>
      Effect.gen(function* () {
        const map = new Map<RecordKey, ReadonlySet<BlobHash>>()
        for (const [repo, list] of Object.entries(values ?? {})) {
          map.set(repo, new Set(yield* Effect.forEach(list, hash)))
        }
        return map
      })
    return {
      roots: yield* hashes(wire.roots),
      pins: yield* sets(wire.pins),
      synced: yield* hashes(wire.synced),
      dropped: yield* sets(wire.dropped),
    } satisfies HeldState
  })

/** The bytes a `SyncStateStore` is kept in: one value per group. */
export interface HeldStateBytes<E> {
  readonly load: (groupKey: RecordKey) => Effect.Effect<Option.Option<Uint8Array>, E>
  readonly store: (groupKey: RecordKey, bytes: Uint8Array) => Effect.Effect<void, E>
  readonly remove: (groupKey: RecordKey) => Effect.Effect<void, E>
  readonly keys: Effect.Effect<ReadonlyArray<RecordKey>, E>
}

/**
 * A `SyncStateStore` over bytes. A state that cannot be read or written is logged and taken
 * as empty (the start-up sweep then frees its blobs and the next pass fetches again):
 * losing a copy is better than a node that no longer starts.
 */
export const syncStateOver = <E>(bytes: HeldStateBytes<E>): SyncStateStore => ({
  load: (groupKey) =>
    bytes.load(groupKey).pipe(
      Effect.flatMap((value) =>
        Option.isNone(value) ? Effect.succeed(emptyHeldState) : decodeHeldState(value.value),
      ),
      Effect.catch((e) =>
        Effect.as(
          Effect.logError("data-repo: could not read a group's sync state", e).pipe(
            Effect.annotateLogs({ group: groupKey }),
          ),
          emptyHeldState,
        ),
      ),
    ),
  save: (groupKey, state) =>
    (isEmptyHeldState(state)
      ? bytes.remove(groupKey)
      : bytes.store(groupKey, encodeHeldState(state))
    ).pipe(
      Effect.catch((e) =>
        Effect.logError("data-repo: could not save a group's sync state", e).pipe(
          Effect.annotateLogs({ group: groupKey }),
        ),
      ),
    ),
  groups: bytes.keys.pipe(
    Effect.catch((e) => Effect.as(Effect.logError("data-repo: could not list sync states", e), [])),
  ),
})

/** A `SyncStateStore` in a map of encoded values that outlives the instances made on it. */
export const memorySyncState = (): SyncStateStore & {
  readonly saved: Map<RecordKey, Uint8Array>
} => {
  const saved = new Map<RecordKey, Uint8Array>()
  return {
    saved,
    ...syncStateOver<never>({
      load: (groupKey) => Effect.sync(() => Option.fromNullishOr(saved.get(groupKey))),
      store: (groupKey, value) => Effect.sync(() => void saved.set(groupKey, value)),
      remove: (groupKey) => Effect.sync(() => void saved.delete(groupKey)),
      keys: Effect.sync(() => [...saved.keys()]),
    }),
  }
}
