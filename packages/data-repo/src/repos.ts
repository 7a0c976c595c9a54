// The DataRepos service: wiring of the collaborators every repo of this instance shares
// (the per-group blob registry, source discovery, replication) and the ways to get a repo
// handle (create, openMine, open).
import type { BlobHash, BlobStoreService, StoreError } from "@save-dweb/blob-store"
import type {
  DhtRecordsError,
  DhtRecordsShape,
  KeyPair,
  OpenedRecord,
  RecordKey,
} from "@save-dweb/dht-records"
import { type Group, type GroupError, NameField } from "@save-dweb/group"
import type { TunnelsShape } from "@save-dweb/tunnels"
import { Context, type Duration, Effect, Option, type Scope } from "effect"
import { readBackupRoute } from "./backups.ts"
import { type CopiesOptions, type HolderCheck, makeCopies } from "./copies.ts"
import { type DataRepoError, type NotLocal, NotWritable } from "./errors.ts"
import { makeGroupBlobs } from "./group-blobs.ts"
import type { SyncStateStore } from "./held-state.ts"
import { makeHoldings } from "./holdings.ts"
import { type KeepSyncedOptions, makeKeepSynced } from "./keep-synced.ts"
import { type BackupRef, INFO_SUBKEY, POINTER_SUBKEY, REPO_SUBKEYS, RepoRecord } from "./record.ts"
import { makeRepo } from "./repo.ts"
import type { Repo, RepoCredentials } from "./repo-shape.ts"
import { makeSourceDiscovery } from "./source-discovery.ts"
import { serveMember } from "./sources.ts"
import { makeSync, type SweepOptions, type SyncOptions, type SyncResult } from "./sync.ts"

export interface CreateRepoOptions {
  /** The repo's name (subkey 0, sealed under the group's names key). */
  readonly name: string
  /**
   * Publishes this node's own route in subkey 2 and follows its changes (cleared at scope
   * close), serves this store's blobs and Iroh address on it to the group's members, and
   * finds sources through others' routes.
   */
  readonly tunnels?: TunnelsShape
}

export interface OpenMineOptions {
  readonly tunnels?: TunnelsShape
}

export interface OpenOptions {
  /** Finds where to fetch from through published routes (default: the instance's). */
  readonly tunnels?: TunnelsShape
}

export interface DataReposOptions {
  /**
   * This node's tunnels, used to find sources when a call is given none (`read`, `list`,
   * `pin`, `blobs`, `syncAll`). Own repos serve on the `tunnels` they are opened with.
   */
  readonly tunnels?: TunnelsShape
  /** How long a member may take to tell its Iroh address over its tunnel (default 5 s). */
  readonly askTimeout?: Duration.Input
  /**
   * Where the roots `syncAll` holds and the pins of other members' blobs are kept per group,
   * so a later process frees what an earlier one synced or pinned, and `sweep` knows them
   * (default: memory only, as long as this instance lives).
   */
  readonly syncState?: SyncStateStore
}

export interface DataReposShape {
  /** A new repo for this member (write tier): record created, named, pointed to from the group. */
  readonly create: (
    group: Group,
    options: CreateRepoOptions,
  ) => Effect.Effect<Repo, DataRepoError, Scope.Scope>
  /** This member's repo again, from stored credentials. */
  readonly openMine: (
    group: Group,
    credentials: RepoCredentials,
    options?: OpenMineOptions,
  ) => Effect.Effect<Repo, DataRepoError, Scope.Scope>
  /** Another member's repo (e.g. from `group.repos`), read-only. */
  readonly open: (
    group: Group,
    key: RecordKey,
    options?: OpenOptions,
  ) => Effect.Effect<Repo, DataRepoError, Scope.Scope>
  /**
   * Replicates every other member's current collection (any tier: hashes only), from
   * the owner's sources, plus other holders' when the group's policy is `any` (found
   * through published routes unless `ownerSources` / `otherSources` are given); then
   * frees what the collections this instance synced before held and the new ones do
   * not. A repo that cannot be fetched is reported in `failed`, never fails the call.
   */
  readonly syncAll: (group: Group, options: SyncOptions) => Effect.Effect<SyncResult, DataRepoError>
  /**
   * `syncAll`, then again whenever the membership or another member's repo record
   * (pointer, routes or listed backups) changes, so an offline member is retried when it comes back
   * rather than failing; after a pass with failures, also on a timer that backs off.
   * Runs until interrupted; each pass's result goes to `onResult`.
   */
  readonly keepSynced: (
    group: Group,
    options: KeepSyncedOptions,
  ) => Effect.Effect<never, DataRepoError>
  /**
   * Serves, until the scope closes, what this instance holds for the group (synced, read
   * or pinned blobs) and this store's Iroh address on `tunnels`, to holders of the group's
   * tunnel key: what an own repo does, for a holder without one (a backup server).
   */
  readonly serve: (group: Group, tunnels: TunnelsShape) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Drops every root `syncAll` holds for the group (and its saved state): their blobs leave
   * the store unless another root holds them. Returns the freed hashes.
   */
  readonly purge: (groupKey: RecordKey) => Effect.Effect<ReadonlyArray<BlobHash>, StoreError>
  /**
   * At start, before any repo is opened or synced: deletes every root of the store (pin or
   * collection) that is neither in `keep` (the caller's own repos' current roots) nor held
   * or pinned for one of `groups`, and forgets the saved state of every other group. What
   * a process killed mid-write or mid-sync left is gone. Returns the freed hashes.
   */
  readonly sweep: (options: SweepOptions) => Effect.Effect<ReadonlyArray<BlobHash>, StoreError>
  /**
   * The root a repo's record points to, from this node's copy of it (the network's when it
   * has none): for an own repo, the last one this node published. What `sweep` keeps.
   */
  readonly publishedRoot: (
    group: Group,
    key: RecordKey,
  ) => Effect.Effect<Option.Option<BlobHash>, DataRepoError>
  /** The route a backup server publishes in its descriptor record now (none while stopped). */
  readonly backupRoute: (
    backup: Pick<BackupRef, "record" | "routeKey">,
  ) => Effect.Effect<Option.Option<Uint8Array>, DhtRecordsError>
  /**
   * Who holds the blob `hash` of the repo `repoKey` now: every other member of the group and
   * every backup server the repo lists, each challenged over `tunnels` to prove it holds
   * the blob (a random range of it, a fresh nonce) and checked against this store's copy
   * (`NotLocal` without one). A holder that does not answer in time is `unknown`.
   */
  readonly copies: (
    group: Group,
    repoKey: RecordKey,
    hash: BlobHash,
    tunnels: TunnelsShape,
    options?: CopiesOptions,
  ) => Effect.Effect<ReadonlyArray<HolderCheck>, NotLocal | GroupError | DhtRecordsError>
}

/** The data repos of one node; `makeDataRepos` (the backend's `makeNode` wires it). */
export class DataRepos extends Context.Service<DataRepos, DataReposShape>()(
  "@save-dweb/data-repo/DataRepos",
) {}

export const makeDataRepos = (
  records: DhtRecordsShape,
  store: BlobStoreService,
  instanceOptions: DataReposOptions = {},
): DataReposShape => {
  const blobs = makeGroupBlobs(store)
  const discovery = makeSourceDiscovery(records, { askTimeout: instanceOptions.askTimeout })
  const holdings = makeHoldings(instanceOptions.syncState)
  const { syncAll, purge, sweep, drop, undrop } = makeSync({
    records,
    store,
    blobs,
    discovery,
    tunnels: instanceOptions.tunnels,
    holdings,
  })

  const handle = (
    group: Group,
    record: OpenedRecord<RepoRecord>,
    owner: KeyPair | undefined,
    tunnels: TunnelsShape | undefined,
  ) =>
    makeRepo({ store, blobs, discovery, pins: holdings, synced: { drop, undrop } }, group, record, {
      owner,
      tunnels,
      fetchVia: tunnels ?? instanceOptions.tunnels,
    })

  const requireSlot = (group: Group, operation: string) =>
    group.slot === undefined
      ? Effect.fail(new NotWritable({ repo: undefined, operation }))
      : Effect.void

  return {
    syncAll,
    keepSynced: makeKeepSynced(records, syncAll),
    serve: (group, tunnels) =>
      serveMember(tunnels, store, group, (hash) => blobs.has(group.key, hash)),
    purge,
    sweep,
    publishedRoot: Effect.fn("DataRepos.publishedRoot")(function* (group: Group, key: RecordKey) {
      const pointer = yield* Effect.scoped(
        Effect.flatMap(
          records.open(RepoRecord, key, { encryptionKey: group.keys.dhtValues }),
          (record) => record.get(POINTER_SUBKEY),
        ),
      )
      return Option.map(pointer, (entry) => entry.value.root)
    }),
    backupRoute: (backup) => readBackupRoute(records, backup),
    copies: makeCopies(records, store),
    create: Effect.fn("DataRepos.create")(function* (group: Group, options: CreateRepoOptions) {
      yield* requireSlot(group, "create")
      yield* group.fileKey
      // Checked before the record exists: the name is sealed into its first value.
      yield* group.names.seal(NameField.repo(group.key), options.name)
      const owner = yield* records.generateKeyPair
      const record = yield* records.create(RepoRecord, {
        schema: { kind: "DFLT", subkeys: REPO_SUBKEYS },
        encryptionKey: group.keys.dhtValues,
        owner,
      })
      // Written before the key is shared: other nodes find a record only once it has a value.
      yield* record.set(INFO_SUBKEY, {
        v: 1,
        name: yield* group.names.seal(NameField.repo(record.key), options.name),
      })
      yield* group.setMyRepo(record.key)
      return yield* handle(group, record, owner, options.tunnels)
    }),
    openMine: Effect.fn("DataRepos.openMine")(function* (
      group: Group,
      credentials: RepoCredentials,
      options?: OpenMineOptions,
    ) {
      yield* requireSlot(group, "openMine")
      const record = yield* records.open(RepoRecord, credentials.key, {
        encryptionKey: group.keys.dhtValues,
        writer: credentials.owner,
      })
      return yield* handle(group, record, credentials.owner, options?.tunnels)
    }),
    open: Effect.fn("DataRepos.open")(function* (
      group: Group,
      key: RecordKey,
      options?: OpenOptions,
    ) {
      const record = yield* records.open(RepoRecord, key, { encryptionKey: group.keys.dhtValues })
      return yield* handle(group, record, undefined, options?.tunnels)
    }),
  }
}
