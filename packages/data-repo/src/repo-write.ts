// An own repo's changes to its files: a write or a delete stores the new manifest and a
// collection of the files and the manifest, publishes its root, and then frees the previous
// root (and with it what only that root held).
import { createReadStream } from "node:fs"
import { type BlobHash, type CollectionEntry, IoError } from "@save-dweb/blob-store"
import { encryptFileStream } from "@save-dweb/crypto"
import { Clock, Effect, FiberSet, Ref, type Scope, Stream } from "effect"
import { FILE_AD, type Manifest, type ManifestEntry, sealManifest } from "./manifest.ts"
import { validateFileName } from "./name.ts"
import { type ManifestPointer, POINTER_SUBKEY } from "./record.ts"
import type { RepoHandleContext, State } from "./repo-context.ts"
import type { FileInput, Repo, WriteOptions } from "./repo-shape.ts"

const readPath = (path: string): Stream.Stream<Uint8Array, IoError> =>
  Stream.fromAsyncIterable(
    createReadStream(path) as AsyncIterable<Uint8Array>,
    (cause) => new IoError({ path, reason: String((cause as Error)?.message ?? cause), cause }),
  )

export const makeRepoWrites = (
  ctx: RepoHandleContext,
): Effect.Effect<Pick<Repo, "write" | "delete">, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { store, groupBlobs, group, key, record, lock, cache } = ctx
    // Previous roots that overwrites replaced, being freed after the write answered. A
    // delete waits for them, and so does closing the handle (this finalizer runs before
    // the set's own, which would interrupt them); a process killed first leaves them to
    // the start-up sweep (backend `sweepStore`): they are no repo's current root.
    const freeing = yield* FiberSet.make<void>()
    yield* Effect.addFinalizer(() => FiberSet.awaitEmpty(freeing))

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
        yield* ctx.requireWritable("write")
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
              const previous = yield* ctx.state()
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
              return {
                ...entry,
                owner: yield* ctx.name,
                status: "local" as const,
                pinned: false,
              }
            }),
          )
          .pipe(
            // The collection took over the blob's pin; if it never got there, unpin it.
            Effect.onError(() => Effect.ignore(store.delete(hash))),
          )
      }).pipe(Effect.withSpan("Repo.write"))

    const remove = Effect.fn("Repo.delete")(function* (fileName: string) {
      yield* ctx.requireWritable("delete")
      yield* lock.withPermit(
        Effect.gen(function* () {
          const previous = yield* ctx.state()
          yield* ctx.find(previous.manifest, fileName)
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

    return { write, delete: remove }
  })
