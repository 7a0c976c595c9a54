import { createReadStream } from "node:fs"
import {
  BlobHash,
  type BlobNotFound,
  type BlobStoreService,
  type CollectionEntry,
  type FetchError,
  type InvalidCollection,
  type InvalidRange,
  IoError,
  type Source,
  type StoreError,
} from "@save-dweb/blob-store"
import { decryptFileStream, encryptFileStream } from "@save-dweb/crypto"
import type {
  DhtRecordsError,
  DhtRecordsShape,
  KeyPair,
  OpenedRecord,
  RecordKey,
} from "@save-dweb/dht-records"
import type { Group, GroupError, InsufficientCapability, RepoPointer } from "@save-dweb/group"
import type { TunnelsShape } from "@save-dweb/tunnels"
import {
  Clock,
  Context,
  Duration,
  Effect,
  Option,
  Ref,
  Schema,
  type Scope,
  Semaphore,
  Stream,
} from "effect"
import { readBackupRoute } from "./backups.ts"
import {
  DecryptFailed,
  FileNotFound,
  type InvalidFileName,
  type InvalidManifest,
  NotLocal,
  NotWritable,
  TooManyBackups,
} from "./errors.ts"
import {
  emptyManifest,
  FILE_AD,
  type Manifest,
  type ManifestEntry,
  openManifest,
  sealManifest,
} from "./manifest.ts"
import { validateFileName } from "./name.ts"
import {
  type BackupRef,
  INFO_SUBKEY,
  MAX_BACKUPS,
  type ManifestPointer,
  POINTER_SUBKEY,
  REPO_SUBKEYS,
  type RepoInfoValue,
  RepoRecord,
  ROUTE_SUBKEY,
} from "./record.ts"
import { serveMember, sourcesOf } from "./sources.ts"
import type { KeepSyncedOptions, SyncOptions, SyncResult, SyncStateStore } from "./sync.ts"

/** Everything a repo operation can fail with. */
export type DataRepoError =
  | InvalidFileName
  | FileNotFound
  | NotWritable
  | DecryptFailed
  | InvalidManifest
  | NotLocal
  | TooManyBackups
  | InsufficientCapability
  | GroupError
  | DhtRecordsError
  | BlobNotFound
  | InvalidRange
  | InvalidCollection
  | StoreError
  | FetchError

/** What the member stores to open its own repo again (with `openMine`). */
export interface RepoCredentials {
  readonly key: RecordKey
  /** The record's owner key pair: whoever holds it writes the repo. */
  readonly owner: KeyPair
}

/** A file as the manifest lists it, with where its bytes are. */
export interface RepoFile {
  readonly name: string
  readonly hash: BlobHash
  /** Plaintext bytes. */
  readonly size: number
  /** Encrypted bytes, as stored and transferred. */
  readonly storedSize: number
  readonly createdAt: number
  readonly modifiedAt: number
  /** The repo's name (its member's, as subkey 0 says). */
  readonly owner: string
  readonly status: "local" | "remote-only"
}

/** What any tier sees of a repo: hashes and sizes of its collection's blobs, nothing more. */
export interface RepoBlob {
  readonly hash: BlobHash
  readonly size: number
}

export interface ReadOptions {
  /**
   * Where to fetch a blob that is not stored here (the owner's store, members, backup
   * servers). Default: found through the published routes (needs `tunnels`): the owner's
   * tunnel and Iroh node, and under source policy `any` every other member's too.
   */
  readonly sources?: ReadonlyArray<Source>
}

export type FileInput<E = never> = Stream.Stream<Uint8Array, E> | string

/** An open repo: the member's own (writable) or another member's. Closed with its scope. */
export interface Repo {
  readonly key: RecordKey
  /** This handle holds the owner key pair and the group's file key. */
  readonly writable: boolean
  /** Present on the member's own repo: store them to `openMine` later. */
  readonly credentials: Option.Option<RepoCredentials>
  /** The repo's name (subkey 0), from the network. */
  readonly name: Effect.Effect<string, DataRepoError>
  /** The published pointer (subkey 1), from the network; none before the first write. */
  readonly pointer: Effect.Effect<Option.Option<ManifestPointer>, DataRepoError>
  /** The published tunnel routes (subkeys 2..3) that are not cleared. */
  readonly routes: Effect.Effect<ReadonlyArray<Uint8Array>, DataRepoError>
  /** Every tier: hashes and sizes of the collection's blobs (the manifest among them). */
  readonly blobs: (options?: ReadOptions) => Effect.Effect<ReadonlyArray<RepoBlob>, DataRepoError>
  /** Read tier: the files of the current manifest (fetched by hash if `sources` are given). */
  readonly list: (options?: ReadOptions) => Effect.Effect<ReadonlyArray<RepoFile>, DataRepoError>
  /** Read tier: the file's plaintext, from the local store, or fetched from `sources` first. */
  readonly read: (name: string, options?: ReadOptions) => Stream.Stream<Uint8Array, DataRepoError>
  /** Own repo: encrypts, stores, updates manifest and collection, then publishes the root. */
  readonly write: <E>(
    name: string,
    input: FileInput<E>,
  ) => Effect.Effect<RepoFile, E | DataRepoError>
  /** Own repo: drops the name, frees the blob here, publishes the new root. */
  readonly delete: (name: string) => Effect.Effect<void, DataRepoError>
  /** Keep a local copy of a file (fetched from `sources` if missing). */
  readonly pin: (name: string, options?: ReadOptions) => Effect.Effect<void, DataRepoError>
  /** Drop the local copy of another member's file (own files stay: they are the repo). */
  readonly unpin: (name: string) => Effect.Effect<void, DataRepoError>
  /** The backup servers this repo lists (subkey 0), from the network; any tier reads them. */
  readonly backups: Effect.Effect<ReadonlyArray<BackupRef>, DataRepoError>
  /**
   * Own repo: lists a backup server (replacing an entry for the same record), so members
   * find it as a source. `TooManyBackups` past `MAX_BACKUPS`. Returns the new list.
   */
  readonly addBackup: (
    backup: Omit<BackupRef, "at">,
  ) => Effect.Effect<ReadonlyArray<BackupRef>, DataRepoError>
  /** Own repo: stops listing the backup whose descriptor record is `record`. */
  readonly removeBackup: (record: string) => Effect.Effect<ReadonlyArray<BackupRef>, DataRepoError>
}

export interface CreateRepoOptions {
  /** The repo's name (subkey 0); default the group's member name or "repo". */
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
   * Where `syncAll` keeps the roots it holds per repo, so a later process frees what an
   * earlier one synced (default: memory only, as long as this instance lives).
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
  /** The route a backup server publishes in its descriptor record now (none while stopped). */
  readonly backupRoute: (
    backup: Pick<BackupRef, "record" | "routeKey">,
  ) => Effect.Effect<Option.Option<Uint8Array>, DhtRecordsError>
}

/** The data repos of one node; `makeDataRepos` (the backend's `makeNode` wires it). */
export class DataRepos extends Context.Service<DataRepos, DataReposShape>()(
  "@save-dweb/data-repo/DataRepos",
) {}

const readPath = (path: string): Stream.Stream<Uint8Array, IoError> =>
  Stream.fromAsyncIterable(
    createReadStream(path) as AsyncIterable<Uint8Array>,
    (cause) => new IoError({ path, reason: String((cause as Error)?.message ?? cause), cause }),
  )

/** Conflicting writes of the route subkey tolerated before `openMine` (or a renewal) fails. */
const ROUTE_WRITE_RETRIES = 3

const decodeHash = Schema.decodeSync(BlobHash)

interface State {
  readonly pointer: ManifestPointer | undefined
  readonly manifest: Manifest
}

export const makeDataRepos = (
  records: DhtRecordsShape,
  store: BlobStoreService,
  instanceOptions: DataReposOptions = {},
): DataReposShape => {
  const openRecord = (group: Group, key: RecordKey) =>
    records.open(RepoRecord, key, { encryptionKey: group.keys.dhtValues })

  /**
   * Per group: the blobs its repos reference that this instance stored or fetched for it
   * (own collections, what it read, pinned or replicated). Only these are served on the
   * group's tunnel protocol, so a member of one group cannot probe this store for another
   * group's blobs. Kept in memory, like `syncedRoots`.
   */
  const groupBlobs = new Map<RecordKey, Set<BlobHash>>()
  const remember = (group: Group, hashes: Iterable<BlobHash>) =>
    Effect.sync(() => {
      const known = groupBlobs.get(group.key) ?? new Set<BlobHash>()
      groupBlobs.set(group.key, known)
      for (const hash of hashes) known.add(hash)
    })
  const servedFor = (group: Group) => (hash: BlobHash) =>
    Effect.sync(() => groupBlobs.get(group.key)?.has(hash) ?? false)
  /** Blobs that left the store are no longer the group's: keeps the set as big as the store. */
  const forget = (group: Group, freed: ReadonlyArray<BlobHash>) =>
    Effect.sync(() => {
      const known = groupBlobs.get(group.key)
      if (known !== undefined) for (const hash of freed) known.delete(hash)
    })

  /** The routes a repo record publishes (subkeys 2..3), not cleared ones. */
  const routesOf = (record: OpenedRecord<RepoRecord>) =>
    Effect.gen(function* () {
      const found: Array<{ readonly id: string; readonly route: Uint8Array }> = []
      for (const subkey of [2, 3] as const) {
        const entry = yield* record.get(subkey, { refresh: true })
        if (Option.isSome(entry) && entry.value.value.route !== null) {
          found.push({ id: `${record.key.slice(5, 13)}.${subkey}`, route: entry.value.value.route })
        }
      }
      return found
    })

  /** The backup servers a repo record lists (subkey 0). */
  const backupsOf = (record: OpenedRecord<RepoRecord>) =>
    Effect.map(record.get(INFO_SUBKEY, { refresh: true }), (entry) =>
      Option.match(entry, {
        onNone: (): ReadonlyArray<BackupRef> => [],
        onSome: (e) => e.value.backups ?? [],
      }),
    )

  /** The routes backups publish now, one per descriptor record; silent ones left out. */
  const backupRoutes = (refs: ReadonlyArray<BackupRef>, exclude: string | undefined) => {
    const unique = new Map<string, BackupRef>()
    for (const ref of refs) {
      if (ref.record !== exclude && !unique.has(ref.record)) unique.set(ref.record, ref)
    }
    return Effect.forEach(
      [...unique.values()],
      (ref) =>
        readBackupRoute(records, ref).pipe(
          Effect.map((route) =>
            Option.match(route, {
              onNone: () => [],
              onSome: (blob) => [{ id: `backup.${ref.record.slice(5, 13)}`, route: blob }],
            }),
          ),
          Effect.orElseSucceed(() => []),
        ),
      { concurrency: "unbounded" },
    ).pipe(Effect.map((found) => found.flat()))
  }

  /**
   * Sources for a repo found through published routes: the owner's (its `record`) and the
   * backup servers its record lists; under source policy `any` also every other member's
   * route (not this member's own: its store is here) and the backups any repo of the group
   * lists. `exclude` leaves one backup out (a backup server syncing: itself). A record or
   * backup that does not answer is left out.
   */
  const findSources = (
    group: Group,
    record: OpenedRecord<RepoRecord>,
    tunnels: TunnelsShape | undefined,
    which: { readonly owner: boolean; readonly others: boolean; readonly exclude?: string },
  ) =>
    Effect.gen(function* () {
      if (tunnels === undefined) return []
      const owner = which.owner ? yield* routesOf(record) : []
      const ownerBackups = which.owner
        ? yield* backupsOf(record).pipe(Effect.orElseSucceed((): ReadonlyArray<BackupRef> => []))
        : []
      const others =
        which.others && (yield* group.info).sourcePolicy === "any"
          ? yield* Effect.forEach(
              (yield* group.repos).filter((p) => p.repoKey !== record.key),
              (p) =>
                Effect.scoped(
                  Effect.gen(function* () {
                    const theirs = yield* openRecord(group, p.repoKey)
                    const backups = yield* backupsOf(theirs)
                    // This member's own store is here; the backups it listed are sources.
                    const routes = p.slot === group.slot ? [] : yield* routesOf(theirs)
                    return { routes, backups }
                  }),
                ).pipe(Effect.orElseSucceed(() => ({ routes: [], backups: [] }))),
              { concurrency: "unbounded" },
            )
          : []
      const backups = yield* backupRoutes(
        [...ownerBackups, ...others.flatMap((o) => o.backups)],
        which.exclude,
      )
      const askTimeout = instanceOptions.askTimeout
      return yield* sourcesOf(
        tunnels,
        group.key,
        group.keys.tunnelAuth,
        [...owner, ...others.flatMap((o) => o.routes), ...backups],
        askTimeout === undefined ? {} : { askTimeout },
      )
    })

  /** The bytes of `hash`, fetched first when not held here: from `sources`, else from `find`. */
  const ensureLocal = <E>(
    group: Group,
    repo: RecordKey,
    hash: BlobHash,
    given: ReadonlyArray<Source> | undefined,
    find: Effect.Effect<ReadonlyArray<Source>, E>,
  ) =>
    Effect.gen(function* () {
      if (!(yield* store.has(hash))) {
        const sources = given ?? (yield* find)
        if (sources.length === 0) return yield* new NotLocal({ repo, hash })
        yield* store.fetch({ hash, kind: "blob", sources })
      }
      yield* remember(group, [hash])
    })

  const readAll = (hash: BlobHash) =>
    Stream.runFold(
      store.read(hash),
      () => new Uint8Array(0),
      (acc, chunk) => {
        const out = new Uint8Array(acc.length + chunk.length)
        out.set(acc)
        out.set(chunk, acc.length)
        return out
      },
    )

  /**
   * Remembers every blob of a collection held here: the root, which is Iroh's hash
   * sequence (32-byte hashes: the names blob, then the members), and what it names.
   */
  const rememberCollection = (group: Group, root: BlobHash) =>
    Effect.gen(function* () {
      const sequence = yield* readAll(root)
      const hashes = [root]
      for (let i = 0; i + 32 <= sequence.length; i += 32) {
        hashes.push(decodeHash(Buffer.from(sequence.subarray(i, i + 32)).toString("hex")))
      }
      yield* remember(group, hashes)
    })

  const handle = (
    group: Group,
    record: OpenedRecord<RepoRecord>,
    owner: KeyPair | undefined,
    options: { readonly tunnels?: TunnelsShape | undefined },
  ) =>
    Effect.gen(function* () {
      const key = record.key
      const writable = owner !== undefined && group.slot !== undefined
      const fetchVia = options.tunnels ?? instanceOptions.tunnels
      const discover = findSources(group, record, fetchVia, { owner: true, others: true })
      const lock = yield* Semaphore.make(1)
      const cache = yield* Ref.make<State>({ pointer: undefined, manifest: emptyManifest })

      const pointer = Effect.map(record.get(POINTER_SUBKEY, { refresh: true }), (entry) =>
        Option.map(entry, (e) => e.value),
      )
      const name = Effect.map(record.get(INFO_SUBKEY), (entry) =>
        Option.match(entry, { onNone: () => "", onSome: (e) => e.value.name }),
      )

      /** The manifest the current pointer names (cached by pointer). */
      const state = (sources?: ReadonlyArray<Source>) =>
        Effect.gen(function* () {
          const held = yield* Ref.get(cache)
          // Own repo: this handle published the latest value; others': ask the network.
          const current = writable ? held.pointer : Option.getOrUndefined(yield* pointer)
          if (current === undefined) return held
          if (held.pointer !== undefined && held.pointer.manifest === current.manifest) return held
          const fileKey = yield* group.fileKey
          yield* ensureLocal(group, key, current.manifest, sources, discover)
          const manifest = yield* openManifest(
            fileKey,
            key,
            current.manifest,
            yield* readAll(current.manifest),
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

      const toFile = (owner: string) => (entry: ManifestEntry) =>
        Effect.map(
          store.has(entry.hash),
          (local): RepoFile => ({
            ...entry,
            owner,
            status: local ? "local" : "remote-only",
          }),
        )

      const requireWritable = (operation: string) =>
        writable ? Effect.void : Effect.fail(new NotWritable({ repo: key, operation }))

      /**
       * Stores `manifest` and a collection of `files` + manifest, publishes it, then drops
       * the previous root (freeing what only it held). On failure the new root is dropped
       * and the published pointer is untouched.
       */
      const publish = (previous: State, manifest: Manifest) =>
        Effect.gen(function* () {
          const fileKey = yield* group.fileKey
          const sealed = yield* sealManifest(fileKey, key, manifest)
          const manifestHash = yield* store.addBytes(sealed)
          const entries: ReadonlyArray<CollectionEntry> = [
            ...manifest.files.map((f) => ({ name: f.hash, hash: f.hash })),
            { name: manifestHash, hash: manifestHash },
          ]
          const root = yield* store
            .createCollection(entries)
            .pipe(Effect.onError(() => Effect.ignore(store.delete(manifestHash))))
          const next: ManifestPointer = {
            v: 1,
            root,
            manifest: manifestHash,
            seq: previous.pointer === undefined ? 0 : previous.pointer.seq + 1,
            at: yield* Clock.currentTimeMillis,
          }
          yield* record
            .set(POINTER_SUBKEY, next)
            .pipe(Effect.onError(() => Effect.ignore(store.delete(root))))
          yield* rememberCollection(group, root)
          yield* Ref.set(cache, { pointer: next, manifest })
          if (previous.pointer !== undefined && previous.pointer.root !== root) {
            // The new state is published: failing to free the old root must not report
            // the write as failed.
            yield* store.delete(previous.pointer.root).pipe(
              Effect.flatMap((deleted) => forget(group, deleted.freed)),
              Effect.catchCause((cause) =>
                Effect.logWarning("data-repo: could not free the previous root", cause),
              ),
            )
          }
        })

      const write = <E>(fileName: string, input: FileInput<E>) =>
        Effect.gen(function* () {
          const valid = yield* validateFileName(fileName)
          yield* requireWritable("write")
          const fileKey = yield* group.fileKey
          let size = 0
          const plain: Stream.Stream<Uint8Array, E | IoError> =
            typeof input === "string" ? readPath(input) : input
          const hash = yield* store.addStream(
            plain.pipe(
              Stream.tap((chunk) =>
                Effect.sync(() => {
                  size += chunk.length
                }),
              ),
              encryptFileStream(fileKey, { associatedData: FILE_AD }),
            ),
          )
          return yield* lock
            .withPermit(
              Effect.gen(function* () {
                const previous = yield* state()
                const now = yield* Clock.currentTimeMillis
                const existing = previous.manifest.files.find((f) => f.name === valid)
                const entry: ManifestEntry = {
                  name: valid,
                  hash,
                  size,
                  storedSize: yield* store.size(hash),
                  createdAt: existing?.createdAt ?? now,
                  modifiedAt: now,
                }
                const files = [
                  ...previous.manifest.files.filter((f) => f.name !== valid),
                  entry,
                ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
                yield* publish(previous, { v: 1, files })
                return { ...entry, owner: yield* name, status: "local" as const }
              }),
            )
            .pipe(
              // The collection took over the blob's pin; if it never got there, unpin it.
              Effect.onError(() => Effect.ignore(store.delete(hash))),
            )
        }).pipe(Effect.withSpan("Repo.write"))

      const remove = Effect.fn("Repo.delete")(function* (fileName: string) {
        yield* requireWritable("delete")
        yield* lock.withPermit(
          Effect.gen(function* () {
            const previous = yield* state()
            yield* find(previous.manifest, fileName)
            yield* publish(previous, {
              v: 1,
              files: previous.manifest.files.filter((f) => f.name !== fileName),
            })
          }),
        )
      })

      const list = Effect.fn("Repo.list")(function* (readOptions?: ReadOptions) {
        const { manifest } = yield* state(readOptions?.sources)
        const owner = yield* name
        return yield* Effect.forEach(manifest.files, toFile(owner))
      })

      const blobs = Effect.fn("Repo.blobs")(function* (readOptions?: ReadOptions) {
        const current = Option.getOrUndefined(yield* pointer)
        if (current === undefined) return []
        if (!(yield* store.has(current.root))) {
          const sources = readOptions?.sources ?? (yield* discover)
          if (sources.length === 0) return yield* new NotLocal({ repo: key, hash: current.root })
          yield* store.fetch({ hash: current.root, kind: "collection", sources })
        }
        const entries = yield* store.readCollection(current.root)
        yield* rememberCollection(group, current.root)
        return yield* Effect.forEach(entries, (e) =>
          Effect.map(store.size(e.hash), (size): RepoBlob => ({ hash: e.hash, size })),
        )
      })

      const read = (fileName: string, readOptions?: ReadOptions) =>
        Stream.unwrap(
          Effect.gen(function* () {
            const fileKey = yield* group.fileKey
            const { manifest } = yield* state(readOptions?.sources)
            const entry = yield* find(manifest, fileName)
            yield* ensureLocal(group, key, entry.hash, readOptions?.sources, discover)
            return store.read(entry.hash).pipe(
              decryptFileStream(fileKey, { associatedData: FILE_AD }),
              Stream.mapError((e) =>
                e._tag === "DecryptError" || e._tag === "InvalidEnvelope"
                  ? new DecryptFailed({ repo: key, what: "file", hash: entry.hash })
                  : e,
              ),
            )
          }),
        ).pipe(Stream.withSpan("Repo.read"))

      const pin = Effect.fn("Repo.pin")(function* (fileName: string, readOptions?: ReadOptions) {
        const { manifest } = yield* state(readOptions?.sources)
        const entry = yield* find(manifest, fileName)
        yield* ensureLocal(group, key, entry.hash, readOptions?.sources, discover)
      })

      const unpin = Effect.fn("Repo.unpin")(function* (fileName: string) {
        if (writable) return
        const { manifest } = yield* state()
        const entry = yield* find(manifest, fileName)
        // A fetched blob is a loose pin; deleting the pin frees it unless a collection holds it.
        yield* store.delete(entry.hash)
      })

      const routes = routesOf(record).pipe(
        Effect.map((found) => found.map((r) => r.route)),
        Effect.withSpan("Repo.routes"),
      )

      const backups = backupsOf(record).pipe(Effect.withSpan("Repo.backups"))

      /** Rewrites the backup list in subkey 0 (over the network's latest value). */
      const updateBackups = (
        operation: string,
        change: (
          current: ReadonlyArray<BackupRef>,
          now: number,
        ) => ReadonlyArray<BackupRef> | undefined,
      ) =>
        Effect.gen(function* () {
          yield* requireWritable(operation)
          return yield* lock.withPermit(
            Effect.gen(function* () {
              const entry = yield* record.get(INFO_SUBKEY, { refresh: true })
              const info: RepoInfoValue = Option.match(entry, {
                onNone: (): RepoInfoValue => ({ v: 1, name: "" }),
                onSome: (e) => e.value,
              })
              const current = info.backups ?? []
              const next = change(current, yield* Clock.currentTimeMillis)
              if (next === undefined) return current
              if (next.length > MAX_BACKUPS) {
                return yield* new TooManyBackups({ repo: key, max: MAX_BACKUPS })
              }
              // An empty list is written as none: the value then reads as it did before.
              yield* record.set(INFO_SUBKEY, {
                v: 1,
                name: info.name,
                ...(next.length === 0 ? {} : { backups: next }),
              })
              return next
            }).pipe(
              Effect.retry({
                times: ROUTE_WRITE_RETRIES,
                while: (e) => e._tag === "RecordConflict",
              }),
            ),
          )
        })

      const addBackup = Effect.fn("Repo.addBackup")(function* (backup: Omit<BackupRef, "at">) {
        return yield* updateBackups("addBackup", (current, at) => [
          ...current.filter((b) => b.record !== backup.record),
          { ...backup, at },
        ])
      })

      const removeBackup = Effect.fn("Repo.removeBackup")(function* (backupRecord: string) {
        return yield* updateBackups("removeBackup", (current) =>
          current.some((b) => b.record === backupRecord)
            ? current.filter((b) => b.record !== backupRecord)
            : undefined,
        )
      })

      if (writable) {
        // Load what was published before (openMine), so writes build on it.
        const published = yield* pointer
        if (Option.isSome(published)) {
          const { root } = published.value
          // Another device's store holds the repo: the next write needs every file here.
          if (!(yield* store.has(root))) {
            const sources = yield* discover
            if (sources.length === 0) return yield* new NotLocal({ repo: key, hash: root })
            yield* store.fetch({ hash: root, kind: "collection", sources })
          }
          yield* rememberCollection(group, root)
          const fileKey = yield* group.fileKey
          const manifest = yield* openManifest(
            fileKey,
            key,
            published.value.manifest,
            yield* readAll(published.value.manifest),
          )
          yield* Ref.set(cache, { pointer: published.value, manifest })
        }
        const tunnels = options.tunnels
        if (tunnels !== undefined) {
          // A node with no copy of the record (a second device, a wiped Veilid store) would
          // write below the network's sequence number and be refused: read the newer value
          // first; on a conflict (another writer in between) the conflict brought the newer
          // value here, so the next attempt writes above it.
          // The route this handle last published: clearing leaves another device's alone
          // (after device pairing, the old device stopping must not hide the new one).
          let mine: Uint8Array | undefined
          const setRoute = (route: Uint8Array | null) =>
            Effect.gen(function* () {
              const current = yield* record.get(ROUTE_SUBKEY, { refresh: true })
              const held = Option.getOrUndefined(current)?.value.route ?? null
              if (route === null && held !== null && mine !== undefined) {
                if (Buffer.compare(held, mine) !== 0) return
              }
              const at = yield* Clock.currentTimeMillis
              yield* record.set(ROUTE_SUBKEY, { route, at })
              if (route !== null) mine = route
            }).pipe(
              Effect.retry({
                times: ROUTE_WRITE_RETRIES,
                while: (e) => e._tag === "RecordConflict",
              }),
            )
          // Served before the route is published, so whoever finds it is answered.
          yield* serveMember(tunnels, store, group.key, group.keys.tunnelAuth, servedFor(group))
          // Registered before the follower fiber, so it runs after that fiber stops.
          yield* Effect.addFinalizer(() => Effect.ignore(setRoute(null)))
          yield* setRoute((yield* tunnels.route).blob)
          yield* tunnels.routeChanges.pipe(
            Stream.runForEach((route) => Effect.ignore(setRoute(route.blob))),
            Effect.forkScoped,
          )
        }
      }

      const repo: Repo = {
        key,
        writable,
        credentials: owner !== undefined ? Option.some({ key, owner }) : Option.none(),
        name,
        pointer,
        routes,
        blobs,
        list,
        read,
        write,
        delete: remove,
        pin,
        unpin,
        backups,
        addBackup,
        removeBackup,
      }
      return repo
    })

  const requireSlot = (group: Group, operation: string) =>
    group.slot === undefined
      ? Effect.fail(new NotWritable({ repo: undefined, operation }))
      : Effect.void

  /** Per group: the root this instance holds for each other member's repo. */
  const syncedRoots = new Map<RecordKey, Map<RecordKey, BlobHash>>()
  const syncState = instanceOptions.syncState

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

    const tunnels = options.tunnels ?? instanceOptions.tunnels
    const syncOne = (repo: RepoPointer) =>
      Effect.gen(function* () {
        const record = yield* openRecord(group, repo.repoKey)
        const current = yield* record.get(POINTER_SUBKEY, { refresh: true })
        if (Option.isNone(current)) return undefined
        const root = current.value.value.root
        if (held.get(repo.repoKey) === root && (yield* store.has(root))) {
          // Held since an earlier process: serve it on the group's tunnel again.
          if (!(groupBlobs.get(group.key)?.has(root) ?? false)) {
            yield* rememberCollection(group, root)
          }
          yield* report({ _tag: "RepoUnchanged", repo: repo.repoKey, root })
          return root
        }
        const others = policy === "any"
        const found = yield* findSources(group, record, tunnels, {
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
        yield* rememberCollection(group, root)
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
    yield* forget(group, freed)
    if (freed.length > 0) yield* report({ _tag: "Purged", freed })
    return { synced, failed, freed } satisfies SyncResult
  })

  /** Waits for the next change of the membership or of another member's repo record. */
  const nextChange = (group: Group) =>
    Effect.scoped(
      Effect.gen(function* () {
        const pointers = (yield* group.repos).filter((p) => p.slot !== group.slot)
        const opened = yield* Effect.forEach(pointers, (p) =>
          records.open(RepoRecord, p.repoKey, { encryptionKey: group.keys.dhtValues }),
        )
        const changes = Stream.mergeAll(
          [
            // The first element is the membership now, not a change.
            Stream.drop(group.watchMembers(), 1).pipe(Stream.as("members" as const)),
            ...opened.map((r) =>
              r
                // Subkey 0 too: the backups it lists (sources; what a backup may copy).
                .watch({ subkeys: [INFO_SUBKEY, POINTER_SUBKEY, ROUTE_SUBKEY, ROUTE_SUBKEY + 1] })
                .pipe(Stream.as("repo" as const)),
            ),
          ],
          { concurrency: "unbounded" },
        )
        yield* Stream.runHead(changes)
      }),
    )

  const keepSynced = Effect.fn("DataRepos.keepSynced")(function* (
    group: Group,
    options: KeepSyncedOptions,
  ) {
    const spacing = Duration.toMillis(Duration.fromInputUnsafe(options.minInterval ?? "1 second"))
    const initial = Duration.toMillis(Duration.fromInputUnsafe(options.retryInitial ?? "1 second"))
    const max = Duration.toMillis(Duration.fromInputUnsafe(options.retryMax ?? "1 minute"))
    const settle = Duration.toMillis(Duration.fromInputUnsafe(options.settle ?? "2 seconds"))
    const maxIdle =
      options.maxIdle === undefined
        ? undefined
        : Duration.toMillis(Duration.fromInputUnsafe(options.maxIdle))
    let retry = initial
    let previous: ReadonlyMap<RecordKey, BlobHash> = new Map()
    while (true) {
      const result = yield* syncAll(group, options)
      if (options.onResult !== undefined) yield* options.onResult(result)
      const ended = yield* Clock.currentTimeMillis
      const moved = [...result.synced].some(([repo, root]) => previous.get(repo) !== root)
      previous = result.synced
      const watched = nextChange(group).pipe(
        // A watch that fails (DHT timeout) is a reason to look again, not to stop.
        Effect.catch((e) =>
          Effect.andThen(
            Effect.logWarning("data-repo: keepSynced could not watch the group", e),
            Effect.sleep(retry),
          ),
        ),
      )
      // A notification Veilid does not deliver would otherwise wait for the watch's reconcile.
      const change =
        maxIdle === undefined ? watched : Effect.raceFirst(watched, Effect.sleep(maxIdle))
      if (result.failed.size > 0) {
        // Failed repos are retried without waiting for a change, backing off.
        yield* Effect.raceFirst(change, Effect.sleep(retry))
        retry = Math.min(max, retry * 2)
      } else if (moved) {
        // Writes often come in bursts (write, then delete): a watch set up after the pass
        // may start from a node that has not seen the last one yet, and would wait for its
        // next reconcile. One more pass shortly after a pass that moved catches it.
        yield* Effect.raceFirst(change, Effect.sleep(settle))
        retry = initial
      } else {
        yield* change
        retry = initial
      }
      // Passes at least `minInterval` apart: a burst of changes makes one pass, not many.
      const waited = (yield* Clock.currentTimeMillis) - ended
      if (waited < spacing) yield* Effect.sleep(spacing - waited)
    }
  })

  const purge = Effect.fn("DataRepos.purge")(function* (groupKey: RecordKey) {
    const roots = [...(yield* heldFor(groupKey)).values()]
    syncedRoots.delete(groupKey)
    groupBlobs.delete(groupKey)
    if (syncState !== undefined) yield* syncState.save(groupKey, new Map())
    const freed: Array<BlobHash> = []
    for (const root of roots) freed.push(...(yield* store.delete(root)).freed)
    return freed
  })

  return {
    syncAll,
    keepSynced: (group, options) =>
      keepSynced(group, options) as Effect.Effect<never, DataRepoError>,
    serve: (group, tunnels) =>
      serveMember(tunnels, store, group.key, group.keys.tunnelAuth, servedFor(group)),
    purge,
    backupRoute: (backup) => readBackupRoute(records, backup),
    create: Effect.fn("DataRepos.create")(function* (group: Group, options: CreateRepoOptions) {
      yield* requireSlot(group, "create")
      yield* group.fileKey
      const owner = yield* records.generateKeyPair
      const record = yield* records.create(RepoRecord, {
        schema: { kind: "DFLT", subkeys: REPO_SUBKEYS },
        encryptionKey: group.keys.dhtValues,
        owner,
      })
      // Written before the key is shared: other nodes find a record only once it has a value.
      yield* record.set(INFO_SUBKEY, { v: 1, name: options.name })
      yield* group.setMyRepo(record.key)
      return yield* handle(group, record, owner, { tunnels: options.tunnels })
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
      return yield* handle(group, record, credentials.owner, { tunnels: options?.tunnels })
    }),
    open: Effect.fn("DataRepos.open")(function* (
      group: Group,
      key: RecordKey,
      options?: OpenOptions,
    ) {
      const record = yield* openRecord(group, key)
      return yield* handle(group, record, undefined, { tunnels: options?.tunnels })
    }),
  }
}
