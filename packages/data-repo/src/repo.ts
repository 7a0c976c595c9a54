// The handle of one open repo: the member's own (it writes files, the manifest and the
// collection, and publishes the root) or another member's (it reads them, fetching by
// hash). Replication of whole repos is `sync.ts`'s, outside the handle.
import { createReadStream } from "node:fs"
import { type BlobHash, type CollectionEntry, IoError, type Source } from "@save-dweb/blob-store"
import { encryptFileStream } from "@save-dweb/crypto"
import type { OpenedRecord } from "@save-dweb/dht-records"
import { type Group, NameField } from "@save-dweb/group"
import { Clock, Effect, FiberSet, Option, Ref, type Scope, Semaphore, Stream } from "effect"
import { filePlaintext } from "./decrypt-file.ts"
import { type DataRepoError, DecryptFailed, FileNotFound, NotLocal, NotWritable } from "./errors.ts"
import { backupsOf, changeBackups, changeName } from "./listed-backups.ts"
import {
  emptyManifest,
  FILE_AD,
  type Manifest,
  type ManifestEntry,
  openManifest,
  sealManifest,
} from "./manifest.ts"
import { validateFileName } from "./name.ts"
import { publishRoute } from "./publish-route.ts"
import { readBlob } from "./read-blob.ts"
import {
  type BackupRef,
  INFO_SUBKEY,
  type ManifestPointer,
  POINTER_SUBKEY,
  type RepoRecord,
  ROUTE_SUBKEY,
} from "./record.ts"
import { makeRepoFetch } from "./repo-fetch.ts"
import type {
  FileInput,
  ReadFileOptions,
  ReadOptions,
  Repo,
  RepoBlob,
  RepoContext,
  RepoFile,
  RepoHandleOptions,
  WriteOptions,
} from "./repo-shape.ts"
import { routesOf } from "./source-discovery.ts"
import { serveMember } from "./sources.ts"

const readPath = (path: string): Stream.Stream<Uint8Array, IoError> =>
  Stream.fromAsyncIterable(
    createReadStream(path) as AsyncIterable<Uint8Array>,
    (cause) => new IoError({ path, reason: String((cause as Error)?.message ?? cause), cause }),
  )

interface State {
  readonly pointer: ManifestPointer | undefined
  readonly manifest: Manifest
}

/** A handle on `record`'s repo, for as long as the scope lives. */
export const makeRepo = (
  context: RepoContext,
  group: Group,
  record: OpenedRecord<RepoRecord>,
  options: RepoHandleOptions,
): Effect.Effect<Repo, DataRepoError, Scope.Scope> =>
  Effect.gen(function* () {
    const { store, blobs: groupBlobs } = context
    const key = record.key
    const owner = options.owner
    const writable = owner !== undefined && group.slot !== undefined
    const discover = context.discovery.find(group, record, options.fetchVia, {
      owner: true,
      others: true,
    })
    const lock = yield* Semaphore.make(1)
    const cache = yield* Ref.make<State>({ pointer: undefined, manifest: emptyManifest })
    // Previous roots that overwrites replaced, being freed after the write answered. A
    // delete waits for them, and so does closing the handle (this finalizer runs before
    // the set's own, which would interrupt them); a process killed first leaves them to
    // the start-up sweep (backend `sweepStore`): they are no repo's current root.
    const freeing = yield* FiberSet.make<void>()
    yield* Effect.addFinalizer(() => FiberSet.awaitEmpty(freeing))

    const { fetchPinned, ensureLocal, readFetching } = makeRepoFetch({
      store,
      pins: context.pins,
      groupBlobs,
      group,
      key,
      writable,
      discover,
    })

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

    /** The manifest the current pointer names (cached by pointer). */
    const state = (sources?: ReadonlyArray<Source>) =>
      Effect.gen(function* () {
        const held = yield* Ref.get(cache)
        // Own repo: this handle published the latest value; others': ask the network.
        const current = writable ? held.pointer : Option.getOrUndefined(yield* pointer)
        if (current === undefined) return held
        if (held.pointer !== undefined && held.pointer.manifest === current.manifest) return held
        const fileKey = yield* group.fileKey
        yield* ensureLocal(current.manifest, sources)
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

    const toFile = (owner: string) => (entry: ManifestEntry) =>
      Effect.gen(function* () {
        const local = yield* store.has(entry.hash)
        const pinned =
          !writable && local && (yield* context.pins.isTracked(group.key, key, entry.hash))
        return {
          ...entry,
          owner,
          status: local ? "local" : "remote-only",
          pinned,
        } satisfies RepoFile
      })

    const requireWritable = (operation: string) =>
      writable ? Effect.void : Effect.fail(new NotWritable({ repo: key, operation }))

    /** Drops a root this repo no longer points to; what only it held leaves the store. */
    const freeRoot = (root: BlobHash) =>
      store.delete(root).pipe(
        Effect.flatMap((deleted) => groupBlobs.forget(group.key, deleted.freed)),
        // The new state is published: failing to free the old root must not fail it.
        Effect.catchCause((cause) =>
          Effect.logWarning("data-repo: could not free the previous root", cause),
        ),
      )

    /**
     * Stores `manifest` and a collection of `files` + manifest, publishes it, then drops
     * the previous root (freeing what only it held): before returning (`"now"`), or right
     * after, in the background (`"later"`: an overwrite need not wait for Iroh to remove
     * the old files from the disk). On failure the new root is dropped and the published
     * pointer is untouched.
     */
    const publish = (previous: State, manifest: Manifest, free: "now" | "later") =>
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
        // The new root must be on this disk before the network points at it: a process
        // killed right after the publish would otherwise come back without its own files.
        yield* store.flush.pipe(Effect.onError(() => Effect.ignore(store.delete(root))))
        yield* record
          .set(POINTER_SUBKEY, next)
          .pipe(Effect.onError(() => Effect.ignore(store.delete(root))))
        yield* groupBlobs.rememberCollection(group.key, root)
        yield* Ref.set(cache, { pointer: next, manifest })
        if (previous.pointer !== undefined && previous.pointer.root !== root) {
          const freed = freeRoot(previous.pointer.root)
          if (free === "now") yield* freed
          else yield* FiberSet.run(freeing, freed)
        }
      })

    const write = <E>(fileName: string, input: FileInput<E>, writeOptions?: WriteOptions) =>
      Effect.gen(function* () {
        const valid = yield* validateFileName(fileName)
        yield* requireWritable("write")
        const fileKey = yield* group.fileKey
        let size = 0
        const plain: Stream.Stream<Uint8Array, E | IoError> =
          typeof input === "string" ? readPath(input) : input
        const hash = yield* store.addStream(
          plain.pipe(
            // Counted per batch of chunks: no effect per chunk.
            Stream.mapArray((chunks) => {
              for (const chunk of chunks) size += chunk.length
              return chunks
            }),
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
                createdAt: writeOptions?.createdAt ?? existing?.createdAt ?? now,
                modifiedAt: writeOptions?.modifiedAt ?? now,
              }
              const files = [
                ...previous.manifest.files.filter((f) => f.name !== valid),
                entry,
              ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
              yield* publish(previous, { v: 1, files }, "later")
              return { ...entry, owner: yield* name, status: "local" as const, pinned: false }
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
          yield* publish(
            previous,
            { v: 1, files: previous.manifest.files.filter((f) => f.name !== fileName) },
            "now",
          )
        }),
      )
      // Delete means gone: also the versions that earlier overwrites of this file (or of
      // any other) replaced and that are still being freed.
      yield* FiberSet.awaitEmpty(freeing)
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
        yield* fetchPinned(current.root, "collection", sources)
      }
      const entries = yield* store.readCollection(current.root)
      yield* groupBlobs.rememberCollection(group.key, current.root)
      return yield* Effect.forEach(entries, (e) =>
        Effect.map(store.size(e.hash), (size): RepoBlob => ({ hash: e.hash, size })),
      )
    })

    const read = (fileName: string, readOptions?: ReadFileOptions) =>
      Stream.unwrap(
        Effect.gen(function* () {
          const fileKey = yield* group.fileKey
          const { manifest } = yield* state(readOptions?.sources)
          const entry = yield* find(manifest, fileName)
          const plaintext = filePlaintext(
            { store, readFetching, ensureLocal },
            entry,
            fileKey,
            readOptions,
          )
          return plaintext.pipe(
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
      // Held already (by a sync): tracked, so it shows as pinned and `unpin` lets it go.
      if (!writable && (yield* store.has(entry.hash))) {
        yield* context.pins.track(group.key, key, entry.hash)
      }
      yield* ensureLocal(
        entry.hash,
        readOptions?.sources,
        entry.storedSize,
        readOptions?.onFetchProgress,
      )
      if (!writable) yield* context.synced.undrop(group.key, key, entry.hash)
    })

    const unpin = Effect.fn("Repo.unpin")(function* (fileName: string) {
      if (writable) return
      const { manifest } = yield* state()
      const entry = yield* find(manifest, fileName)
      // A fetched blob is a loose pin; deleting the pin frees it unless a collection holds it
      // (or another repo's handle pinned the same hash).
      if (yield* context.pins.untrack(group.key, key, entry.hash)) yield* store.delete(entry.hash)
      // The synced collection holding it lets it go too, for good (until a `pin`).
      yield* context.synced.drop(group.key, key, entry.hash)
    })

    const routes = routesOf(record).pipe(
      Effect.map((found) => found.map((r) => r.route)),
      Effect.withSpan("Repo.routes"),
    )

    /** Own repo: rewrites the backup list (one change at a time on this handle). */
    const updateBackups = (
      operation: string,
      change: (
        current: ReadonlyArray<BackupRef>,
        now: number,
      ) => ReadonlyArray<BackupRef> | undefined,
    ) =>
      Effect.andThen(
        requireWritable(operation),
        lock.withPermit(changeBackups(group, record, change)),
      )

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

    const rename = Effect.fn("Repo.rename")(function* (newName: string) {
      yield* requireWritable("rename")
      yield* lock.withPermit(changeName(group, record, newName))
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
        yield* groupBlobs.rememberCollection(group.key, root)
        const fileKey = yield* group.fileKey
        const manifest = yield* openManifest(
          fileKey,
          key,
          published.value.manifest,
          yield* readBlob(store, published.value.manifest),
        )
        yield* Ref.set(cache, { pointer: published.value, manifest })
      }
      const tunnels = options.tunnels
      if (tunnels !== undefined) {
        // Served before the route is published, so whoever finds it is answered.
        yield* serveMember(tunnels, store, group, (hash) => groupBlobs.has(group.key, hash))
        yield* publishRoute(record, ROUTE_SUBKEY, tunnels)
      }
    }

    return {
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
      backups: backupsOf(record).pipe(Effect.withSpan("Repo.backups")),
      addBackup,
      removeBackup,
      rename,
    }
  })
