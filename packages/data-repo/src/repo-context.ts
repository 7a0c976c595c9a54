// What the operations of one open repo share: its record, whether this node writes it, the
// published pointer and the manifest it names (cached by pointer), the lock that orders the
// handle's changes, and how it gets a blob it lacks.
import type { BlobStoreService, Source } from "@save-dweb/blob-store"
import type { OpenedRecord, RecordKey } from "@save-dweb/dht-records"
import { type Group, NameField } from "@save-dweb/group"
import { Effect, Option, Ref, Semaphore } from "effect"
import { type DataRepoError, FileNotFound, NotWritable } from "./errors.ts"
import type { GroupBlobs } from "./group-blobs.ts"
import type { PinTracker } from "./holdings.ts"
import { emptyManifest, type Manifest, type ManifestEntry, openManifest } from "./manifest.ts"
import { readBlob } from "./read-blob.ts"
import { INFO_SUBKEY, type ManifestPointer, POINTER_SUBKEY, type RepoRecord } from "./record.ts"
import { makeRepoFetch } from "./repo-fetch.ts"
import type { RepoContext, RepoHandleOptions } from "./repo-shape.ts"
import type { SyncedFiles } from "./sync.ts"

/** The pointer this handle last saw and the manifest it names. */
export interface State {
  readonly pointer: ManifestPointer | undefined
  readonly manifest: Manifest
}

export interface RepoHandleContext {
  readonly store: BlobStoreService
  readonly groupBlobs: GroupBlobs
  readonly pins: PinTracker
  /** This member's synced collections: `unpin` drops a file from them, `pin` takes it back. */
  readonly synced: SyncedFiles
  readonly group: Group
  readonly record: OpenedRecord<RepoRecord>
  readonly key: RecordKey
  /** The owner's key pair is held and the group gives this member a slot. */
  readonly writable: boolean
  /** Orders this handle's changes (files, backups, name). */
  readonly lock: Semaphore.Semaphore
  /** The state `state` answers from while the pointer has not moved. */
  readonly cache: Ref.Ref<State>
  /** Sources found through published routes, when a call is given none. */
  readonly discover: Effect.Effect<ReadonlyArray<Source>, DataRepoError>
  /** The pointer in the record, from the network. */
  readonly pointer: Effect.Effect<Option.Option<ManifestPointer>, DataRepoError>
  /** The repo's name (its member's), opened with the group's names key; `""` when none. */
  readonly name: Effect.Effect<string, DataRepoError>
  /**
   * The manifest the current pointer names (cached by pointer): for an own repo, the last
   * one this handle published; for another's, the network's, fetched from `sources` if
   * not held here.
   */
  readonly state: (sources?: ReadonlyArray<Source>) => Effect.Effect<State, DataRepoError>
  /** The entry of `fileName`, or `FileNotFound`. */
  readonly find: (
    manifest: Manifest,
    fileName: string,
  ) => Effect.Effect<ManifestEntry, FileNotFound>
  /** `NotWritable` unless this handle writes the repo. */
  readonly requireWritable: (operation: string) => Effect.Effect<void, NotWritable>
  readonly fetch: ReturnType<typeof makeRepoFetch<DataRepoError>>
}

export const makeRepoContext = Effect.fnUntraced(function* (
  context: RepoContext,
  group: Group,
  record: OpenedRecord<RepoRecord>,
  options: RepoHandleOptions,
) {
  const { store, blobs: groupBlobs, pins } = context
  const key = record.key
  const writable = options.owner !== undefined && group.slot !== undefined
  const discover = context.discovery.find(group, record, options.fetchVia, {
    owner: true,
    others: true,
  })
  const lock = yield* Semaphore.make(1)
  const cache = yield* Ref.make<State>({ pointer: undefined, manifest: emptyManifest })
  const fetch = makeRepoFetch({ store, pins, groupBlobs, group, key, writable, discover })

  const pointer = Effect.map(record.get(POINTER_SUBKEY, { refresh: true }), (entry) =>
    Option.map(entry, (e) => e.value),
  )
  const name = Effect.flatMap(record.get(INFO_SUBKEY), (entry) =>
    Option.match(entry, {
      onNone: () => Effect.succeed(""),
      onSome: (e) =>
        Effect.map(group.names.open(NameField.repo(key), e.value.name), (n) => n ?? ""),
    }),
  )

  const state = (sources?: ReadonlyArray<Source>) =>
    Effect.gen(function* () {
      const held = yield* Ref.get(cache)
      // Own repo: this handle published the latest value; others': ask the network.
      const current = writable ? held.pointer : Option.getOrUndefined(yield* pointer)
      if (current === undefined) return held
      if (held.pointer !== undefined && held.pointer.manifest === current.manifest) return held
      const fileKey = yield* group.fileKey
      yield* fetch.ensureLocal(current.manifest, sources)
      const manifest = yield* openManifest(
        fileKey,
        key,
        current.manifest,
        yield* readBlob(store, current.manifest),
      )
      const next = { pointer: current, manifest }
      yield* Ref.set(cache, next)
      return next
    })

  const find = (manifest: Manifest, fileName: string) =>
    Option.match(Option.fromNullishOr(manifest.files.find((f) => f.name === fileName)), {
      onNone: () => Effect.fail(new FileNotFound({ repo: key, name: fileName })),
      onSome: Effect.succeed,
    })

  const requireWritable = (operation: string) =>
    writable ? Effect.void : Effect.fail(new NotWritable({ repo: key, operation }))

  const handleContext: RepoHandleContext = {
    store,
    groupBlobs,
    pins,
    synced: context.synced,
    group,
    record,
    key,
    writable,
    lock,
    cache,
    discover,
    pointer,
    name,
    state,
    find,
    requireWritable,
    fetch,
  }
  return handleContext
})
