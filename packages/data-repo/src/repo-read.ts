// Reading a repo, own or another member's: its files as the manifest lists them, their
// plaintext, the blobs of its collection (what any tier sees), and local copies kept
// (`pin`) or dropped (`unpin`) of another member's files.
import { Effect, Option, Stream } from "effect"
import { filePlaintext } from "./decrypt-file.ts"
import { DecryptFailed, NotLocal } from "./errors.ts"
import type { ManifestEntry } from "./manifest.ts"
import type { RepoHandleContext } from "./repo-context.ts"
import type { ReadFileOptions, ReadOptions, Repo, RepoBlob, RepoFile } from "./repo-shape.ts"

export const makeRepoReads = (
  ctx: RepoHandleContext,
): Pick<Repo, "list" | "blobs" | "read" | "pin" | "unpin"> => {
  const { store, groupBlobs, group, key } = ctx
  const { fetchPinned, ensureLocal, readFetching } = ctx.fetch

  const toFile = (owner: string) => (entry: ManifestEntry) =>
    Effect.gen(function* () {
      const local = yield* store.has(entry.hash)
      const pinned =
        !ctx.writable && local && (yield* ctx.pins.isTracked(group.key, key, entry.hash))
      return {
        ...entry,
        owner,
        status: local ? "local" : "remote-only",
        pinned,
      } satisfies RepoFile
    })

  const list = Effect.fn("Repo.list")(function* (readOptions?: ReadOptions) {
    const { manifest } = yield* ctx.state(readOptions?.sources)
    const owner = yield* ctx.name
    return yield* Effect.forEach(manifest.files, toFile(owner))
  })

  const blobs = Effect.fn("Repo.blobs")(function* (readOptions?: ReadOptions) {
    const current = Option.getOrUndefined(yield* ctx.pointer)
    if (current === undefined) return []
    if (!(yield* store.has(current.root))) {
      const sources = readOptions?.sources ?? (yield* ctx.discover)
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
        const { manifest } = yield* ctx.state(readOptions?.sources)
        const entry = yield* ctx.find(manifest, fileName)
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
    const { manifest } = yield* ctx.state(readOptions?.sources)
    const entry = yield* ctx.find(manifest, fileName)
    // Held already (by a sync): tracked, so it shows as pinned and `unpin` lets it go.
    if (!ctx.writable && (yield* store.has(entry.hash))) {
      yield* ctx.pins.track(group.key, key, entry.hash)
    }
    yield* ensureLocal(
      entry.hash,
      readOptions?.sources,
      entry.storedSize,
      readOptions?.onFetchProgress,
    )
    if (!ctx.writable) yield* ctx.synced.undrop(group.key, key, entry.hash)
  })

  const unpin = Effect.fn("Repo.unpin")(function* (fileName: string) {
    if (ctx.writable) return
    const { manifest } = yield* ctx.state()
    const entry = yield* ctx.find(manifest, fileName)
    // A fetched blob is a loose pin; deleting the pin frees it unless a collection holds it
    // (or another repo's handle pinned the same hash).
    if (yield* ctx.pins.untrack(group.key, key, entry.hash)) yield* store.delete(entry.hash)
    // The synced collection holding it lets it go too, for good (until a `pin`).
    yield* ctx.synced.drop(group.key, key, entry.hash)
  })

  return { list, blobs, read, pin, unpin }
}
