import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Effect, Layer, Stream } from "effect"
import { type LandBytes, tunnelBatch } from "./batch-fetch.ts"
import { BlobStore, type BlobStoreService, type ByteRange, type ReadOptions } from "./blob-store.ts"
import { Catalog } from "./catalog.ts"
import {
  type CollectionEntry,
  decodeHashSeq,
  decodeMeta,
  encodeCollection,
  normalizeEntries,
} from "./collection.ts"
import {
  BlobNotFound,
  HashMismatch,
  InvalidCollection,
  ioError,
  NotFoundAtSource,
  SourceUnreachable,
  StoreClosed,
  UnexpectedSize,
  UnsupportedSource,
} from "./errors.ts"
import { runFetch } from "./fetch-engine.ts"
import { followPrefix, Prefixes } from "./growing.ts"
import { type BlobHash, blake3 } from "./hash.ts"
import {
  bytesInto,
  exportCollectionWith,
  fetchApi,
  readInto,
  receiveVerified,
  resolveRange,
  sourceBytes,
  updateCollectionWith,
} from "./shared.ts"
import type { Source } from "./source.ts"

interface MemoryStoreState {
  readonly blobs: Map<BlobHash, Uint8Array>
  readonly status: { closed: boolean }
}

// In-process "network" of memory stores, so `MemorySource` can reach another one.
const memoryStores = new Map<string, MemoryStoreState>()
let memoryStoreCounter = 0

export interface MemoryOptions {
  /** Default per-source fetch timeout. */
  readonly fetchTimeoutMillis?: number
}

const readChunk = 64 * 1024

/**
 * The in-memory BlobStore for unit tests of the layers above. Same keeping
 * rules, hashes, collection format and errors as the Iroh layer (the
 * compliance suite holds both to that); never for production.
 */
export const makeMemory = (options: MemoryOptions = {}) =>
  Effect.gen(function* () {
    const storeId = `memory-${++memoryStoreCounter}-${process.pid}`
    const blobs = new Map<BlobHash, Uint8Array>()
    const status = { closed: false }
    const catalog = new Catalog()
    const prefixes = new Prefixes()
    memoryStores.set(storeId, { blobs, status })
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        status.closed = true
        memoryStores.delete(storeId)
      }),
    )

    const open = Effect.suspend(() =>
      status.closed ? Effect.fail(new StoreClosed()) : Effect.void,
    )

    const put = (bytes: Uint8Array) =>
      Effect.promise(async () => {
        const copy = Uint8Array.from(bytes)
        const hash = await blake3(copy)
        blobs.set(hash, copy)
        return hash
      })

    const addBytes = Effect.fn("BlobStore.addBytes")(function* (bytes: Uint8Array) {
      yield* open
      const hash = yield* put(bytes)
      catalog.pin(hash)
      return hash
    })

    const getBlob = (hash: BlobHash): Effect.Effect<Uint8Array, BlobNotFound | StoreClosed> =>
      Effect.suspend((): Effect.Effect<Uint8Array, BlobNotFound | StoreClosed> => {
        if (status.closed) return Effect.fail(new StoreClosed())
        const bytes = blobs.get(hash)
        return bytes === undefined ? Effect.fail(new BlobNotFound({ hash })) : Effect.succeed(bytes)
      })

    const readCollection: BlobStoreService["readCollection"] = Effect.fn(
      "BlobStore.readCollection",
    )(function* (root) {
      yield* open
      const known = catalog.collections.get(root)
      if (known !== undefined) return known.entries
      const seq = decodeHashSeq(yield* getBlob(root))
      if (seq === undefined || seq.length === 0)
        return yield* new InvalidCollection({ hash: root, reason: "not a hash sequence" })
      const [meta, ...members] = seq as [BlobHash, ...Array<BlobHash>]
      const names = decodeMeta(yield* getBlob(meta))
      if (names === undefined || names.length !== members.length)
        return yield* new InvalidCollection({ hash: root, reason: "names do not match members" })
      return names.map((name, i) => ({ name, hash: members[i] as BlobHash }))
    })

    const createCollection = Effect.fn("BlobStore.createCollection")(function* (
      input: ReadonlyArray<CollectionEntry>,
    ) {
      yield* open
      const entries = yield* normalizeEntries(input)
      for (const e of entries) {
        if (!blobs.has(e.hash)) return yield* new BlobNotFound({ hash: e.hash })
        if (catalog.isCollection(e.hash))
          return yield* new InvalidCollection({
            reason: `member ${e.name} is a collection; nesting is not supported`,
          })
      }
      const encoded = yield* Effect.promise(() => encodeCollection(entries))
      blobs.set(encoded.meta, encoded.metaBytes)
      blobs.set(encoded.root, encoded.hashSeq)
      catalog.addCollection(encoded.root, { meta: encoded.meta, entries })
      catalog.adopt(entries)
      return encoded.root
    })

    const deleteRoot = Effect.fn("BlobStore.delete")(function* (hash: BlobHash) {
      yield* open
      const plan = catalog.removeRoot(hash)
      if (plan === undefined) return { freed: [] }
      const freed = plan.candidates.filter((h) => !catalog.isHeld(h) && blobs.has(h))
      for (const h of freed) blobs.delete(h)
      return { freed }
    })

    const exportBlob = Effect.fn("BlobStore.exportBlob")(function* (hash: BlobHash, file: string) {
      const bytes = yield* getBlob(hash)
      const target = path.resolve(file)
      yield* Effect.tryPromise({
        try: async () => {
          await fs.mkdir(path.dirname(target), { recursive: true })
          await fs.writeFile(target, bytes)
        },
        catch: (cause) => ioError(target, cause),
      })
    })

    /** Bytes from outside: hashed as they come, kept only if verified. */
    const landBytes: LandBytes = (hash, sourceId, bytes, onProgress, expectedSize) =>
      Effect.gen(function* () {
        yield* open
        const chunks: Array<Uint8Array> = []
        let received = 0
        yield* receiveVerified(
          hash,
          sourceId,
          bytes,
          onProgress,
          (chunk) =>
            Effect.sync(() => {
              chunks.push(Uint8Array.from(chunk))
              received += chunk.length
              prefixes.note(hash, chunks, received)
            }),
          expectedSize,
        ).pipe(Effect.ensuring(Effect.sync(() => prefixes.forget(hash, chunks))))
        blobs.set(hash, Buffer.concat(chunks))
      })

    const fetchBlob = (
      hash: BlobHash,
      source: Source,
      onProgress: (done: number, total: number | undefined) => void,
      expectedSize: number | undefined,
    ) =>
      Effect.gen(function* () {
        yield* open
        switch (source._tag) {
          case "MemorySource": {
            const remote = memoryStores.get(source.storeId)
            if (remote === undefined || remote.status.closed)
              return yield* new SourceUnreachable({
                source: source.id,
                reason: "no such memory store",
              })
            const bytes = remote.blobs.get(hash)
            if (bytes === undefined) return yield* new NotFoundAtSource({ source: source.id, hash })
            if (expectedSize !== undefined && bytes.length !== expectedSize)
              return yield* new UnexpectedSize({
                source: source.id,
                hash,
                announced: bytes.length,
                expected: expectedSize,
              })
            const actual = yield* Effect.promise(() => blake3(bytes))
            if (actual !== hash)
              return yield* new HashMismatch({ source: source.id, expected: hash, actual })
            blobs.set(hash, bytes)
            onProgress(bytes.length, bytes.length)
            return
          }
          case "ByteStreamSource":
          case "TunnelSource":
            return yield* landBytes(
              hash,
              source.id,
              sourceBytes(hash, source, onProgress, expectedSize),
              onProgress,
              expectedSize,
            )
          case "IrohSource":
            return yield* new UnsupportedSource({ source: source.id, transport: "Iroh" })
        }
      })

    const fetching = fetchApi((request, emit) =>
      Effect.gen(function* () {
        yield* open
        const id = catalog.beginFetch()
        const result = yield* runFetch(
          request,
          {
            has: (h) => Effect.map(open, () => blobs.has(h)),
            size: (h) => Effect.map(getBlob(h), (b) => b.length),
            readSmall: getBlob,
            protect: (hashes) => Effect.sync(() => catalog.holdForFetch(id, hashes)),
            fetchBlob,
            fetchBatch: tunnelBatch(landBytes),
            cancellable: () => true,
          },
          { timeoutMillis: options.fetchTimeoutMillis ?? 10_000 },
          emit,
        ).pipe(Effect.ensuring(Effect.sync(() => catalog.endFetch(id))))
        yield* open
        if (result.collection === undefined) catalog.pin(request.hash)
        else catalog.addCollection(request.hash, result.collection)
        return {
          hash: request.hash,
          kind: request.kind,
          bytes: result.bytes,
          blobs: result.blobs,
          sources: result.sources,
        }
      }),
    )

    const read = (hash: BlobHash, range?: ByteRange, options?: ReadOptions) =>
      Stream.unwrap(
        Effect.gen(function* () {
          const bytes = yield* getBlob(hash)
          const [start, end] = yield* resolveRange(hash, bytes.length, range)
          const into = readInto(options)
          if (into !== undefined) return bytesInto(bytes, start, end, into)
          const chunks: Array<Uint8Array> = []
          for (let i = start; i < end; i += readChunk)
            chunks.push(bytes.slice(i, Math.min(end, i + readChunk)))
          return Stream.fromIterable(chunks)
        }),
      )

    const service: BlobStoreService = {
      addBytes,
      addPath: Effect.fn("BlobStore.addPath")(function* (file: string) {
        yield* open
        const target = path.resolve(file)
        const bytes = yield* Effect.tryPromise({
          try: () => fs.readFile(target),
          catch: (cause) => ioError(target, cause),
        })
        return yield* addBytes(bytes)
      }),
      addStream: (stream) =>
        Effect.gen(function* () {
          yield* open
          const chunks: Array<Uint8Array> = []
          yield* Stream.runForEach(stream, (chunk) =>
            Effect.sync(() => chunks.push(Uint8Array.from(chunk))),
          )
          return yield* addBytes(Buffer.concat(chunks))
        }).pipe(Effect.withSpan("BlobStore.addStream")),
      read,
      readWhileFetching: (hash, fetch) =>
        Stream.unwrap(
          Effect.gen(function* () {
            yield* open
            const rest = (offset: number) =>
              read(hash, { offset }).pipe(Stream.catchTag("InvalidRange", (e) => Stream.die(e)))
            // A memory source hands over a blob whole; a byte-stream one in pieces to follow.
            return blobs.has(hash) ? rest(0) : followPrefix(prefixes, hash, fetch, rest, readChunk)
          }),
        ),
      has: Effect.fn("BlobStore.has")(function* (hash: BlobHash) {
        yield* open
        return blobs.has(hash)
      }),
      size: Effect.fn("BlobStore.size")(function* (hash: BlobHash) {
        return (yield* getBlob(hash)).length
      }),
      list: Effect.fn("BlobStore.list")(function* () {
        yield* open
        return catalog.roots()
      }),
      createCollection,
      readCollection,
      updateCollection: updateCollectionWith({ readCollection, createCollection, deleteRoot }),
      exportBlob,
      exportCollection: (root, dir) =>
        exportCollectionWith({ readCollection, exportBlob }, root, dir).pipe(
          Effect.withSpan("BlobStore.exportCollection"),
        ),
      delete: deleteRoot,
      // Nothing outlives the process here: the barrier only checks the store is open.
      flush: open,
      ...fetching,
      source: Effect.fn("BlobStore.source")(function* () {
        yield* open
        return { _tag: "MemorySource", id: storeId, storeId } as const
      }),
    }
    return service
  })

export const layerMemory = (options: MemoryOptions = {}): Layer.Layer<BlobStore> =>
  Layer.effect(BlobStore, makeMemory(options))
