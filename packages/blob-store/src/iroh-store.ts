import { randomUUID } from "node:crypto"
import { createReadStream } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { BiStream, DownloadProgress } from "@number0/iroh"
import { releasePayload } from "@save-dweb/tunnels"
import { Effect, Layer, Semaphore, Stream } from "effect"
import { type LandBytes, tunnelBatch } from "./batch-fetch.ts"
import { BlobStore, type BlobStoreService, type ByteRange, type ReadOptions } from "./blob-store.ts"
import { Catalog } from "./catalog.ts"
import {
  type CollectionEntry,
  decodeHashSeq,
  decodeMeta,
  encodeCollection,
  encodeMeta,
  normalizeEntries,
} from "./collection.ts"
import {
  AllSourcesFailed,
  BlobNotFound,
  InvalidCollection,
  ioError,
  NotFoundAtSource,
  SourceError,
  type SourceFailure,
  SourceUnreachable,
  type StoreError,
  UnsupportedSource,
} from "./errors.ts"
import { runFetch } from "./fetch-engine.ts"
import { followPrefix, Prefixes } from "./growing.ts"
import { type BlobHash, blake3, isBlobHash } from "./hash.ts"
import { HashSeq, IrohNode, type IrohStoreConfig, RANGE_ALPN, Raw } from "./iroh-node.ts"
import {
  bytesInto,
  exportCollectionWith,
  fetchApi,
  nodeErrorCode,
  readInto,
  receiveVerified,
  resolveRange,
  sourceBytes,
  updateCollectionWith,
} from "./shared.ts"
import type { FetchEvent, FetchRequest, Source, SourceProgress } from "./source.ts"
import {
  type RangeSource,
  type SplitOutcome,
  sourcesAfterSplit,
  splitFetch,
  splitMinBytes,
} from "./split-fetch.ts"
import { encodeRequest, MAX_REQUEST_BYTES } from "./tunnel-protocol.ts"
import { blobsHandler } from "./tunnel-provider.ts"
import { blobResponseBody, openTunnelBlob } from "./tunnel-source.ts"

// Iroh tags this store owns. Iroh's GC keeps whatever a tag reaches (a
// HashSeq tag: the sequence and every hash in it) and sweeps the rest.
const registryTag = "sd/roots" // HashSeq whose members are the pinned blobs
const collectionTag = (root: BlobHash) => `sd/c/${root}`
const deleteTag = "sd/del" // set just before deleteBlob, which needs a tag to act
const tmpTag = (id: string) => `sd/tmp/${id}`

/** Iroh keeps blobs of 16 KiB or less inside its database, not as files. */
const inlineLimit = 16 * 1024
/**
 * Bytes per read of a blob's file. 64 KiB, not 1 MiB: every read is a fresh Buffer, and
 * at 1 MiB (above glibc's mmap threshold until a free raises it) a daemon serving 1 GiB
 * grew its malloc heap by 100–140 MiB and kept it (peak RSS 341–397 MiB); the decryptor
 * then also emitted 1 MiB batches that the HTTP server joined with `Buffer.concat`. At
 * 64 KiB (one record of the file format) the same serve peaked at ~230 MiB, and ran faster
 * (apps/daemon README, Memory).
 */
const readChunk = 64 * 1024
/** Bytes `addStream` collects into one write while the previous write is in flight. */
const writeBatch = 4 * 1024 * 1024
/** How long a download given up on may still set its tag. */
const lateDownloadGraceMillis = 120_000

/** One add's or fetch's temporary tags, and the blobs it stored under them, in `pending/`. */
interface JournalEntry {
  readonly tags: ReadonlyArray<string>
  readonly hashes: ReadonlyArray<BlobHash>
}

const isStrings = (value: unknown): value is ReadonlyArray<string> =>
  Array.isArray(value) && value.every((v) => typeof v === "string")

/** A journal file's entry (earlier versions wrote the tags alone); undefined if cut short. */
const parseJournal = (text: string): JournalEntry | undefined => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (isStrings(value)) return { tags: value, hashes: [] }
  if (typeof value !== "object" || value === null) return undefined
  const { tags, hashes } = value as Record<string, unknown>
  if (!isStrings(tags) || !isStrings(hashes)) return undefined
  return { tags, hashes: hashes.filter(isBlobHash) }
}

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false,
  )

export const makeIroh = (config: IrohStoreConfig) =>
  Effect.gen(function* () {
    const storeScope = yield* Effect.scope
    const node = yield* IrohNode.start(config)
    const catalog = new Catalog()
    const prefixes = new Prefixes()
    const lock = yield* Semaphore.make(1)
    const locked = lock.withPermits(1)
    let registryRoot: BlobHash | undefined

    // ---- persistence of the catalog into Iroh tags (callers hold `lock`)

    const writeRegistry = (tagsToDelete: ReadonlyArray<string> = []) =>
      Effect.gen(function* () {
        const entries = [...catalog.pins].sort().map((hash) => ({ name: hash, hash }))
        registryRoot = yield* node.createCollection(entries, registryTag, tagsToDelete)
      })

    /** Frees one blob's bytes now (Iroh's deleteBlob acts only on a tagged hash). */
    const forceFree = (hash: BlobHash) =>
      Effect.gen(function* () {
        if (yield* node.tagLocal(hash, Raw, deleteTag)) yield* node.deleteBlob(hash)
      })

    /**
     * Iroh removes files after its write transaction commits (up to ~0.5 s),
     * and refuses to delete a blob a running download still holds: retry that
     * until the deadline.
     */
    const waitGone = (hashes: ReadonlyArray<BlobHash>) =>
      Effect.gen(function* () {
        const deadline = Date.now() + 10_000
        for (const hash of hashes) {
          let polls = 0
          while (
            (yield* node.has(hash)) ||
            (yield* Effect.promise(() => exists(node.dataFile(hash)))) ||
            (yield* Effect.promise(() => exists(node.outboardFile(hash))))
          ) {
            if (Date.now() > deadline) {
              yield* Effect.logWarning(`blob ${hash} still on disk 10 s after delete`)
              return
            }
            if (++polls % 40 === 0 && !catalog.isHeld(hash)) yield* locked(forceFree(hash))
            yield* Effect.sleep(25)
          }
        }
      })

    // A journal of temporary tags, so a crash cannot leave them pinning data, and of the
    // blobs they were set on, so the next start frees those at once (Iroh's GC would take
    // up to a minute).
    const journal = (id: string, entry: JournalEntry) =>
      Effect.tryPromise({
        try: () => fs.writeFile(path.join(node.pendingDir, id), JSON.stringify(entry)),
        catch: (cause) => ioError(node.pendingDir, cause),
      })
    const unjournal = (id: string) =>
      Effect.promise(() => fs.rm(path.join(node.pendingDir, id), { force: true }))

    // ---- load what a previous run kept

    yield* Effect.gen(function* () {
      const collectionTags: Array<BlobHash> = []
      for (const { tag, hash } of yield* node.listCollectionTags()) {
        if (tag === registryTag) registryRoot = hash
        else if (tag.startsWith("sd/c/")) collectionTags.push(hash)
      }
      if (registryRoot !== undefined)
        for (const e of yield* node.getCollection(registryRoot)) catalog.pins.add(e.hash)
      for (const root of collectionTags) {
        const entries = yield* node.getCollection(root)
        const meta = yield* Effect.promise(() => blake3(encodeMeta(entries.map((e) => e.name))))
        catalog.addCollection(root, { meta, entries })
      }
      const stale: Array<string> = []
      const orphans: Array<BlobHash> = []
      const files = yield* Effect.promise(() => fs.readdir(node.pendingDir))
      for (const file of files) {
        const text = yield* Effect.promise(() =>
          fs.readFile(path.join(node.pendingDir, file), "utf8"),
        )
        // undefined: a journal cut short by the crash, its tags were never created
        const entry = parseJournal(text)
        stale.push(...(entry?.tags ?? []))
        orphans.push(...(entry?.hashes ?? []))
      }
      yield* writeRegistry(stale)
      // What a cut-off add or fetch had stored is freed before the store is used, unless a
      // root reaches it (the same content added before).
      const freed: Array<BlobHash> = []
      for (const hash of new Set(orphans))
        if (!catalog.isHeld(hash) && (yield* node.has(hash))) {
          yield* forceFree(hash)
          freed.push(hash)
        }
      yield* waitGone(freed)
      if (freed.length > 0)
        yield* Effect.logInfo("blob-store: freed what cut-off writes had stored").pipe(
          Effect.annotateLogs({ freed: freed.length }),
        )
      for (const file of files) yield* unjournal(file)
    })

    // ---- reading

    const sizeOf = (hash: BlobHash) =>
      Effect.flatMap(node.completeSize(hash), (size) =>
        size === undefined ? Effect.fail(new BlobNotFound({ hash })) : Effect.succeed(size),
      )

    const notFoundOr = (file: string, hash: BlobHash) => (cause: unknown) =>
      nodeErrorCode(cause) === "ENOENT" ? new BlobNotFound({ hash }) : ioError(file, cause)

    /** `[start, end)` of `file`, read into `into` again and again (see `ReadOptions`). */
    const fileInto = (file: string, hash: BlobHash, start: number, end: number, into: Uint8Array) =>
      Stream.unwrap(
        Effect.map(
          Effect.acquireRelease(
            Effect.tryPromise({ try: () => fs.open(file, "r"), catch: notFoundOr(file, hash) }),
            (handle) => Effect.promise(() => handle.close()),
          ),
          (handle) =>
            Stream.unfold(start, (position) =>
              position >= end
                ? Effect.succeed(undefined)
                : Effect.tryPromise({
                    try: async () => {
                      const want = Math.min(into.length, end - position)
                      const { bytesRead } = await handle.read(into, 0, want, position)
                      // The file is immutable while open: a short read means it is damaged.
                      if (bytesRead === 0) throw new Error(`${file} ends at ${position}`)
                      return [into.subarray(0, bytesRead), position + bytesRead] as const
                    },
                    catch: notFoundOr(file, hash),
                  }),
            ),
        ),
      )

    const fileStream = (
      file: string,
      hash: BlobHash,
      start: number,
      end: number,
      into: Uint8Array | undefined,
    ) =>
      into !== undefined
        ? fileInto(file, hash, start, end, into)
        : Stream.fromAsyncIterable(
            createReadStream(file, {
              start,
              end: end - 1,
              highWaterMark: readChunk,
            }) as AsyncIterable<Uint8Array>,
            notFoundOr(file, hash),
          )

    /**
     * Read path: stream Iroh's own data file (complete blobs are immutable
     * there, and an open descriptor survives a concurrent delete). Small blobs
     * live in Iroh's database: read them whole. Anything else (a layout this
     * code does not know) goes through an exported temp copy.
     */
    const read = (hash: BlobHash, range?: ByteRange, options?: ReadOptions) =>
      Stream.unwrap(
        Effect.gen(function* () {
          const size = yield* sizeOf(hash)
          const [start, end] = yield* resolveRange(hash, size, range)
          if (start === end) return Stream.empty
          const file = node.dataFile(hash)
          const into = readInto(options)
          if (yield* Effect.promise(() => exists(file))) {
            return fileStream(file, hash, start, end, into)
          }
          if (size <= inlineLimit) {
            const bytes = yield* node.readToBytes(hash)
            return into !== undefined
              ? bytesInto(bytes, start, end, into)
              : Stream.succeed(bytes.subarray(start, end))
          }
          const tmp = path.join(node.tmpDir, `read-${randomUUID()}`)
          yield* Effect.acquireRelease(node.exportCopy(hash, tmp), () =>
            Effect.promise(() => fs.rm(tmp, { force: true })),
          )
          return fileStream(tmp, hash, start, end, into)
        }),
      )

    const readAll = (hash: BlobHash) =>
      Stream.mkUint8Array(read(hash)).pipe(Effect.catchTag("InvalidRange", Effect.die))

    // ---- adding

    const addFile = (file: string) =>
      Effect.gen(function* () {
        const id = `add-${randomUUID()}`
        yield* journal(id, { tags: [tmpTag(id)], hashes: [] })
        const { hash } = yield* node.addFromPath(file, tmpTag(id))
        // Killed between Iroh setting the tag and this write, the blob is left to Iroh's GC.
        yield* journal(id, { tags: [tmpTag(id)], hashes: [hash] })
        yield* locked(
          Effect.gen(function* () {
            catalog.pin(hash)
            yield* writeRegistry([tmpTag(id)])
          }),
        )
        yield* unjournal(id)
        return hash
      })

    const withTempFile = <A, E>(use: (file: string) => Effect.Effect<A, E>) =>
      Effect.acquireUseRelease(
        Effect.sync(() => path.join(node.tmpDir, `in-${randomUUID()}`)),
        use,
        (file) => Effect.promise(() => fs.rm(file, { force: true })),
      )

    /**
     * Writes a stream to a file with one write in flight while the stream
     * produces more: what arrives meanwhile goes out in the next `writev`, so
     * encryption upstream overlaps the disk, and a stream of small chunks
     * (an HTTP body) costs one thread-pool round trip per batch, not per
     * chunk. Memory stays bounded by two batches of at most `writeBatch`
     * bytes (plus one input batch). The stream must not reuse a chunk's
     * memory after yielding it.
     */
    const streamToFile = <E>(stream: Stream.Stream<Uint8Array, E>, file: string) =>
      Effect.acquireUseRelease(
        Effect.tryPromise({
          try: () => fs.open(file, "w"),
          catch: (cause) => ioError(file, cause),
        }),
        (handle) => {
          let inFlight: Promise<unknown> = Promise.resolve()
          let busy = false
          let pending: Array<Uint8Array> = []
          let pendingBytes = 0
          const settle = Effect.tryPromise({
            try: () => inFlight,
            catch: (cause) => ioError(file, cause),
          })
          const flush = Effect.andThen(
            settle,
            Effect.sync(() => {
              if (pending.length === 0) return
              busy = true
              inFlight = handle.writev(pending).finally(() => {
                busy = false
              })
              // Observed by the next `settle`; never an unhandled rejection if the stream fails first.
              inFlight.catch(() => undefined)
              pending = []
              pendingBytes = 0
            }),
          )
          return Stream.runForEachArray(stream, (chunks) => {
            for (const chunk of chunks) {
              pending.push(chunk)
              pendingBytes += chunk.length
            }
            return busy && pendingBytes < writeBatch ? Effect.void : flush
          }).pipe(Effect.andThen(flush), Effect.andThen(settle))
        },
        (handle) => Effect.promise(() => handle.close()),
      )

    // ---- collections

    const createCollection = Effect.fn("BlobStore.createCollection")(function* (
      input: ReadonlyArray<CollectionEntry>,
    ) {
      const entries = yield* normalizeEntries(input)
      const encoded = yield* Effect.promise(() => encodeCollection(entries))
      return yield* locked(
        Effect.gen(function* () {
          for (const e of entries) {
            if (catalog.isCollection(e.hash))
              return yield* new InvalidCollection({
                reason: `member ${e.name} is a collection; nesting is not supported`,
              })
            if (!(yield* node.has(e.hash))) return yield* new BlobNotFound({ hash: e.hash })
          }
          const root = yield* node.createCollection(entries, collectionTag(encoded.root), [])
          if (root !== encoded.root)
            return yield* Effect.die(
              new Error(`Iroh made collection ${root}, expected ${encoded.root}`),
            )
          catalog.addCollection(root, { meta: encoded.meta, entries })
          if (catalog.adopt(entries) || catalog.pins.has(root)) yield* writeRegistry()
          return root
        }),
      )
    })

    const readCollection = Effect.fn("BlobStore.readCollection")(function* (root: BlobHash) {
      const known = catalog.collections.get(root)
      if (known !== undefined) {
        yield* node.ensureOpen
        return known.entries
      }
      const seq = decodeHashSeq(yield* readAll(root))
      if (seq === undefined || seq.length === 0)
        return yield* new InvalidCollection({ hash: root, reason: "not a hash sequence" })
      const [meta, ...members] = seq as [BlobHash, ...Array<BlobHash>]
      const names = decodeMeta(yield* readAll(meta))
      if (names === undefined || names.length !== members.length)
        return yield* new InvalidCollection({ hash: root, reason: "names do not match members" })
      return names.map((name, i) => ({ name, hash: members[i] as BlobHash }))
    })

    // ---- deleting

    const deleteRoot = Effect.fn("BlobStore.delete")(function* (hash: BlobHash) {
      const freed = yield* locked(
        Effect.gen(function* () {
          yield* node.ensureOpen
          const plan = catalog.removeRoot(hash)
          if (plan === undefined) return []
          const present: Array<BlobHash> = []
          for (const h of plan.candidates)
            if (!catalog.isHeld(h) && (yield* node.has(h))) present.push(h)
          if (plan.kind === "collection") yield* node.deleteBlob(hash)
          else yield* writeRegistry()
          for (const h of present) if (h !== hash || plan.kind === "blob") yield* forceFree(h)
          return present
        }),
      )
      yield* waitGone(freed)
      return { freed }
    })

    // ---- fetching

    /** Bytes that are not Iroh's own download: hashed into a temp file, added if verified. */
    const landBytes =
      (downloadTag: string): LandBytes =>
      (hash, sourceId, bytes, onProgress, expectedSize) =>
        withTempFile((file) =>
          Effect.gen(function* () {
            yield* Effect.acquireUseRelease(
              Effect.tryPromise({
                try: () => fs.open(file, "w"),
                catch: (cause) => ioError(file, cause),
              }),
              (handle) => {
                let written = 0
                return receiveVerified(
                  hash,
                  sourceId,
                  bytes,
                  onProgress,
                  (chunk) =>
                    Effect.tryPromise({
                      try: async () => {
                        await handle.write(chunk)
                        written += chunk.length
                        // On disk and hashed: a tunnel's reply need not wait for V8
                        // (empties `chunk`).
                        releasePayload(chunk)
                        prefixes.note(hash, file, written)
                      },
                      catch: (cause) => ioError(file, cause),
                    }),
                  expectedSize,
                )
              },
              (handle) =>
                Effect.promise(() => handle.close()).pipe(
                  Effect.ensuring(Effect.sync(() => prefixes.forget(hash, file))),
                ),
            )
            // Verified: only now does Iroh see the bytes.
            yield* node.addFromPath(file, downloadTag)
          }),
        )

    const fetchBlob =
      (downloadTag: string, reached: Set<string>, timeoutMillis: number, onAbandon: () => void) =>
      (
        hash: BlobHash,
        source: Source,
        onProgress: (done: number, total: number | undefined) => void,
        expectedSize: number | undefined,
      ): Effect.Effect<void, SourceFailure | StoreError> => {
        switch (source._tag) {
          case "IrohSource":
            return Effect.gen(function* () {
              if (source.nodeId === node.nodeId)
                return yield* new SourceError({ source: source.id, reason: "that is this node" })
              const addr = { nodeId: source.nodeId, addresses: [...source.addresses] }
              if (!reached.has(source.id)) {
                const probe = yield* node.probe(addr, timeoutMillis)
                if (probe === "timeout")
                  return yield* new SourceUnreachable({
                    source: source.id,
                    reason: `no QUIC connection within ${timeoutMillis} ms`,
                  })
                if (probe !== "ok")
                  return yield* new SourceUnreachable({
                    source: source.id,
                    reason: probe.message.split("\n")[0] ?? "",
                  })
                reached.add(source.id)
              }
              // Iroh writes a chunk group to the blob's data file once it checked it
              // against the hash, in order: the offset it reports is a readable prefix.
              const dataFile = node.dataFile(hash)
              const onEvent = (ev: DownloadProgress) => {
                if (ev.found) onProgress(0, Number(ev.found.size))
                else if (ev.foundLocal) onProgress(0, undefined)
                else if (ev.progress) {
                  const offset = Number(ev.progress.offset)
                  prefixes.note(hash, dataFile, offset)
                  onProgress(offset, undefined)
                }
              }
              const outcome = yield* node.download(hash, Raw, [addr], downloadTag, onEvent).pipe(
                Effect.onInterrupt(() => Effect.sync(onAbandon)),
                Effect.ensuring(Effect.sync(() => prefixes.forget(hash, dataFile))),
              )
              if (outcome.complete) return
              const reason =
                outcome.error?.message.split("\n")[0] ?? "download ended without a result"
              // Iroh reports a connection it could not make as "no nodes"; a
              // peer that lacks the blob, or whose copy fails its own
              // verification, as "hash not found".
              if (/no nodes to download from|failed to connect|connection/i.test(reason))
                return yield* new SourceUnreachable({ source: source.id, reason })
              if (/not found/i.test(reason))
                return yield* new NotFoundAtSource({ source: source.id, hash })
              return yield* new SourceError({ source: source.id, reason })
            })
          case "ByteStreamSource":
          case "TunnelSource":
            return landBytes(downloadTag)(
              hash,
              source.id,
              sourceBytes(hash, source, onProgress, expectedSize),
              onProgress,
              expectedSize,
            )
          case "MemorySource":
            return Effect.fail(new UnsupportedSource({ source: source.id, transport: "memory" }))
        }
      }

    /**
     * `splitFetch` when it fits: a blob of known size of at least `splitMinBytes`, not held
     * here, asked of two or more tunnel sources and no Iroh one (Iroh's downloads take no
     * ranges from JS). Adds the blob under `downloadTag` when it came whole and verified.
     */
    const splitAcross = (
      request: FetchRequest,
      downloadTag: string,
      timeoutMillis: number,
      emit: (event: FetchEvent) => void,
    ) =>
      Effect.gen(function* () {
        const size = request.expectedSize
        const ranged = [
          ...new Map(
            request.sources.flatMap(
              (s): ReadonlyArray<readonly [string, RangeSource]> =>
                s._tag === "TunnelSource" || (s._tag === "IrohSource" && s.nodeId !== node.nodeId)
                  ? [[s.id, s]]
                  : [],
            ),
          ).values(),
        ]
        if (
          request.kind !== "blob" ||
          size === undefined ||
          size < splitMinBytes ||
          ranged.length < 2 ||
          (yield* node.has(request.hash))
        )
          return undefined
        const hash = request.hash
        const range = (source: RangeSource, offset: number, length: number) =>
          source._tag === "TunnelSource"
            ? openTunnelBlob(source, hash, () => {}, size, { offset, length })
            : Stream.fromAsyncIterable(
                node.requestRange(
                  { nodeId: source.nodeId, addresses: [...source.addresses] },
                  encodeRequest({ _tag: "Get", hash, offset, length }),
                  readChunk,
                ),
                (cause): SourceFailure =>
                  new SourceUnreachable({
                    source: source.id,
                    reason:
                      (cause instanceof Error ? cause.message : String(cause)).split("\n")[0] ?? "",
                  }),
              ).pipe(blobResponseBody(source.id, hash, () => {}, size, { offset, length }))
        let lastEmit = 0
        return yield* withTempFile((file) =>
          Effect.gen(function* () {
            const outcome = yield* splitFetch({
              hash: request.hash,
              size,
              sources: ranged,
              range,
              file,
              timeoutMillis,
              onProgress: (bytes) => {
                const now = Date.now()
                if (now - lastEmit < 100) return
                lastEmit = now
                emit({
                  _tag: "Progress",
                  bytesDone: bytes,
                  bytesTotal: size,
                  blobsDone: 0,
                  blobsTotal: 1,
                  sources: [],
                })
              },
              onPrefix: (bytes) => prefixes.note(request.hash, file, bytes),
            })
            // Verified: only now does Iroh see the bytes.
            if (outcome.complete) yield* node.addFromPath(file, downloadTag)
            return outcome
          }).pipe(Effect.ensuring(Effect.sync(() => prefixes.forget(request.hash, file)))),
        )
      })

    const fetching = fetchApi((request, emit) =>
      Effect.gen(function* () {
        yield* node.ensureOpen
        const fetchId = catalog.beginFetch()
        const id = `fetch-${randomUUID()}`
        const guardTag = tmpTag(id)
        const downloadTag = `${guardTag}/dl`
        const guards: Array<{ root: BlobHash; meta: BlobHash }> = []
        const timeoutMillis = request.timeoutMillis ?? config.fetchTimeoutMillis ?? 10_000
        let abandoned = false
        yield* journal(id, { tags: [guardTag, downloadTag], hashes: [request.hash] })

        // Everything the fetch brings is held by a guard collection (members
        // may be partial: Iroh's GC spares what a tag reaches), so a source
        // that dies leaves verified bytes for the next one to build on.
        const protect = (hashes: ReadonlyArray<BlobHash>) =>
          Effect.gen(function* () {
            catalog.holdForFetch(fetchId, hashes)
            const entries = [
              { name: id, hash: hashes[0] as BlobHash },
              ...hashes.slice(1).map((hash, i) => ({ name: String(i), hash })),
            ]
            const encoded = yield* Effect.promise(() => encodeCollection(entries))
            guards.push({ root: encoded.root, meta: encoded.meta })
            yield* node.createCollection(entries, guardTag, [])
          })

        const cleanup = locked(
          Effect.gen(function* () {
            catalog.endFetch(fetchId)
            yield* writeRegistry([guardTag, downloadTag])
            for (const g of guards)
              for (const h of [g.root, g.meta]) if (!catalog.isHeld(h)) yield* forceFree(h)
          }),
        ).pipe(
          Effect.andThen(
            // A download given up on (timeout) may still finish and set its
            // tag: remove it again later (or at the next start: journal).
            Effect.suspend(() =>
              abandoned
                ? Effect.forkIn(
                    Effect.sleep(lateDownloadGraceMillis).pipe(
                      Effect.andThen(locked(writeRegistry([downloadTag]))),
                      Effect.andThen(unjournal(id)),
                      Effect.ignore,
                    ),
                    storeScope,
                  )
                : unjournal(id),
            ),
          ),
          Effect.catch(() => Effect.void),
        )

        let split: SplitOutcome | undefined
        const result = yield* Effect.gen(function* () {
          // A large blob from several tunnel sources comes in ranges from all of them at
          // once; whatever that leaves undone, the engine fetches from one at a time.
          const outcome = yield* splitAcross(request, downloadTag, timeoutMillis, emit)
          split = outcome
          const sources =
            outcome === undefined ? request.sources : sourcesAfterSplit(request.sources, outcome)
          if (outcome !== undefined && sources.length === 0) {
            return yield* new AllSourcesFailed({
              hash: request.hash,
              failures: outcome.sources.flatMap((s) => (s.failure ? [s.failure] : [])),
            })
          }
          const result = yield* runFetch(
            { ...request, sources },
            {
              has: (h) => node.has(h),
              size: sizeOf,
              readSmall: readAll,
              protect,
              fetchBlob: fetchBlob(downloadTag, new Set(), timeoutMillis, () => {
                abandoned = true
              }),
              fetchBatch: tunnelBatch(landBytes(downloadTag)),
              cancellable: (source) => source._tag !== "IrohSource",
            },
            { timeoutMillis },
            emit,
          )
          yield* locked(
            Effect.gen(function* () {
              if (result.collection === undefined) {
                catalog.pin(request.hash)
                return
              }
              const tagged = yield* node.tagLocal(
                request.hash,
                HashSeq,
                collectionTag(request.hash),
              )
              if (!tagged) {
                const { meta, entries } = result.collection
                const missing: Array<BlobHash> = []
                for (const h of [request.hash, meta, ...entries.map((e) => e.hash)])
                  if (!(yield* node.has(h))) missing.push(h)
                return yield* new InvalidCollection({
                  hash: request.hash,
                  reason: `incomplete after fetch (${missing.length} blobs not complete here: ${missing.slice(0, 3).join(", ")})`,
                })
              }
              catalog.addCollection(request.hash, result.collection)
            }),
          )
          return result
        }).pipe(Effect.ensuring(cleanup))
        return {
          hash: request.hash,
          kind: request.kind,
          bytes: result.bytes,
          blobs: result.blobs,
          sources: withSplit(split, result.sources),
        }
      }),
    )

    const exportBlob = Effect.fn("BlobStore.exportBlob")(function* (hash: BlobHash, file: string) {
      const target = path.resolve(file)
      yield* sizeOf(hash)
      yield* Effect.tryPromise({
        try: () => fs.mkdir(path.dirname(target), { recursive: true }),
        catch: (cause) => ioError(target, cause),
      })
      const data = node.dataFile(hash)
      const copied = yield* Effect.tryPromise({
        try: () =>
          fs.copyFile(data, target).then(
            () => true,
            (cause) => {
              if (nodeErrorCode(cause) === "ENOENT") return false
              throw cause
            },
          ),
        catch: (cause) => ioError(target, cause),
      })
      if (copied) return
      yield* streamToFile(
        read(hash).pipe(Stream.catchTag("InvalidRange", (e) => Stream.die(e))),
        target,
      )
    })

    const readWhileFetching = <E>(hash: BlobHash, fetch: Effect.Effect<unknown, E>) =>
      Stream.unwrap(
        Effect.map(node.has(hash), (here) => {
          const rest = (offset: number) =>
            read(hash, { offset }).pipe(Stream.catchTag("InvalidRange", (e) => Stream.die(e)))
          return here ? rest(0) : followPrefix(prefixes, hash, fetch, rest, readChunk)
        }),
      )

    const service: BlobStoreService = {
      addBytes: Effect.fn("BlobStore.addBytes")(function* (bytes: Uint8Array) {
        yield* node.ensureOpen
        return yield* withTempFile((file) =>
          Effect.gen(function* () {
            yield* Effect.tryPromise({
              try: () => fs.writeFile(file, bytes),
              catch: (c) => ioError(file, c),
            })
            return yield* addFile(file)
          }),
        )
      }),
      addPath: Effect.fn("BlobStore.addPath")(function* (file: string) {
        yield* node.ensureOpen
        const target = path.resolve(file)
        yield* Effect.tryPromise({
          try: async () => {
            if (!(await fs.stat(target)).isFile()) throw new Error("not a regular file")
          },
          catch: (cause) => ioError(target, cause),
        })
        return yield* addFile(target)
      }),
      addStream: (stream) =>
        withTempFile((file) =>
          Effect.gen(function* () {
            yield* node.ensureOpen
            yield* streamToFile(stream, file)
            return yield* addFile(file)
          }),
        ).pipe(Effect.withSpan("BlobStore.addStream")),
      read,
      readWhileFetching,
      has: Effect.fn("BlobStore.has")(function* (hash: BlobHash) {
        return yield* node.has(hash)
      }),
      size: Effect.fn("BlobStore.size")(function* (hash: BlobHash) {
        return yield* sizeOf(hash)
      }),
      list: Effect.fn("BlobStore.list")(function* () {
        yield* node.ensureOpen
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
      flush: node.sync().pipe(Effect.withSpan("BlobStore.flush")),
      ...fetching,
      source: Effect.fn("BlobStore.source")(function* () {
        const addr = yield* node.nodeAddr()
        return {
          _tag: "IrohSource",
          id: addr.nodeId,
          nodeId: addr.nodeId,
          addresses: addr.addresses,
        } as const
      }),
    }
    // Ranged reads over Iroh (`RANGE_ALPN`): each stream carries one blobs-protocol request.
    const answerRanges = blobsHandler(service)
    node.serveRanges((connection) => {
      const answer = async (stream: BiStream) => {
        try {
          const request = await stream.recv.readToEnd(MAX_REQUEST_BYTES)
          const response = answerRanges({
            protocol: RANGE_ALPN,
            keyIndex: 0,
            input: Stream.succeed(request),
          })
          await Effect.runPromise(
            Stream.runForEach(response, (chunk) =>
              Effect.promise(() => stream.send.writeAll(chunk)),
            ),
          )
          await stream.send.finish()
        } catch {
          await stream.send.reset(1n).catch(() => {})
        }
      }
      void (async () => {
        for (;;) {
          const stream = await connection.acceptBi().catch(() => undefined)
          if (stream === undefined || node.closed) return
          void answer(stream)
        }
      })()
    })
    return service
  })

/**
 * The real BlobStore: one persistent Iroh node per store directory, started
 * in the layer's scope and shut down (bounded wait) when it closes.
 */
export const layer = (config: IrohStoreConfig): Layer.Layer<BlobStore, StoreError> =>
  Layer.effect(BlobStore, makeIroh(config))

/** The engine's per-source progress with what a split fetch before it took from each. */
const withSplit = (
  split: SplitOutcome | undefined,
  sources: ReadonlyArray<SourceProgress>,
): ReadonlyArray<SourceProgress> => {
  if (split === undefined) return sources
  const byId = new Map(split.sources.map((s) => [s.source, s]))
  const merged = sources.map((s) => {
    const before = byId.get(s.source)
    byId.delete(s.source)
    return before === undefined
      ? s
      : { ...s, bytes: s.bytes + before.bytes, failure: s.failure ?? before.failure }
  })
  return [...merged, ...byId.values()]
}
