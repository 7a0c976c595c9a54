import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import {
  BlobDownloadOptions,
  type BlobExportFormat,
  type BlobExportMode,
  type BlobFormat,
  Collection,
  type Connection,
  type DownloadProgress,
  Iroh,
  type NodeDiscoveryConfig,
  type NodeOptions,
  SetTagOption,
} from "@number0/iroh"
import { Effect } from "effect"
import type { CollectionEntry } from "./collection.ts"
import { ioError, StoreClosed, type StoreError } from "./errors.ts"
import { type BlobHash, irohToHex } from "./hash.ts"

// The binding declares these as `const enum`s, which isolated modules cannot
// read; their runtime values are these strings.
export const Raw = "Raw" as BlobFormat
export const HashSeq = "HashSeq" as BlobFormat
const ExportBlob = "Blob" as BlobExportFormat
const ExportCopy = "Copy" as BlobExportMode
const NoDiscovery = "None" as NodeDiscoveryConfig

export interface IrohStoreConfig {
  /** Store directory: Iroh's data, the node's secret key, temp files. */
  readonly dir: string
  /** Default `0.0.0.0:0` (any interface, random port). Tests use `127.0.0.1:0`. */
  readonly ipv4Addr?: string
  /** Default `[::]:0`. */
  readonly ipv6Addr?: string
  /**
   * Iroh's garbage collection period. Deletes do not wait for it (they free
   * bytes themselves); it only sweeps leftovers (partial downloads of failed
   * fetches, replaced internal blobs). Default 60 s.
   */
  readonly gcIntervalMillis?: number
  /** How long closing the store waits for Iroh's shutdown. Default 5 s. */
  readonly shutdownTimeoutMillis?: number
  /** Default per-source fetch timeout. Default 10 s. */
  readonly fetchTimeoutMillis?: number
}

export interface NodeAddr {
  readonly nodeId: string
  readonly addresses: Array<string>
}

export interface DownloadOutcome {
  readonly error: Error | undefined
  readonly complete: boolean
}

/** iroh-blobs 0.35 fs store's `BatchOptions::max_write_batch` default (see `sync`). */
/**
 * The ALPN of this store's ranged reads over Iroh: the blobs protocol of the tunnels (a
 * `Get` with offset and length, answered by a header and the bytes) on a QUIC stream, so
 * one blob can come from several Iroh nodes at once (Iroh's own downloads take no ranges
 * from JS). It answers what Iroh's own blobs protocol answers: any blob this store holds,
 * to whoever reaches the node.
 */
export const RANGE_ALPN = "save-dweb/blob-range/1"

const utf8Bytes = (text: string) => new TextEncoder().encode(text)

const WRITE_BATCH_MESSAGES = 1_000
/** Any hash works for the status queries of `sync`; this one names nothing. */
const SYNC_PROBE_HASH = "0".repeat(64)

/** iroh-blobs 0.35 `protocol::ALPN`. */
const blobsAlpn = new TextEncoder().encode("/iroh-bytes/4")

const utf8 = (s: string): Array<number> => [...Buffer.from(s, "utf8")]
const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    // unref: a stuck shutdown must not keep the process alive on its own.
    setTimeout(resolve, ms).unref()
  })

/**
 * The node's identity is kept in `secret.key` (mode 0600): Iroh derives a
 * fresh one on every start otherwise, and peers and tickets would go stale.
 */
const loadSecretKey = async (file: string): Promise<Uint8Array> => {
  try {
    const key = await fs.readFile(file)
    if (key.length !== 32) throw new Error(`${file} holds ${key.length} bytes, expected 32`)
    await fs.chmod(file, 0o600)
    return key
  } catch (cause) {
    if ((cause as { code?: string }).code !== "ENOENT") throw cause
    const key = randomBytes(32)
    await fs.writeFile(file, key, { mode: 0o600, flag: "wx" })
    return key
  }
}

/**
 * A started Iroh node with the handful of calls the store makes, each mapped
 * to typed errors and refused once the store is closed. `number[]` calls are
 * used only for small things (tag names, hashes, names blobs ≤ 16 KiB).
 */
export class IrohNode {
  readonly iroh: Iroh
  readonly dir: string
  readonly irohDir: string
  readonly tmpDir: string
  readonly pendingDir: string
  readonly nodeId: string
  private readonly status: { closed: boolean }
  /** Who answers connections on `RANGE_ALPN` (the store, once it is made). */
  private readonly ranges: { serve?: (connection: Connection) => void }
  /** Connections this node opened on `RANGE_ALPN`, by node id, reused by later ranges. */
  private readonly rangeConnections = new Map<string, Promise<Connection>>()

  private constructor(fields: {
    iroh: Iroh
    dir: string
    irohDir: string
    tmpDir: string
    pendingDir: string
    nodeId: string
    status: { closed: boolean }
    ranges: { serve?: (connection: Connection) => void }
  }) {
    this.iroh = fields.iroh
    this.dir = fields.dir
    this.irohDir = fields.irohDir
    this.tmpDir = fields.tmpDir
    this.pendingDir = fields.pendingDir
    this.nodeId = fields.nodeId
    this.status = fields.status
    this.ranges = fields.ranges
  }

  /** Answers connections on `RANGE_ALPN` with `serve` from now on (before: closed at once). */
  serveRanges(serve: (connection: Connection) => void): void {
    this.ranges.serve = serve
  }

  /**
   * Sends `request` on a new stream of a connection to `addr` on `RANGE_ALPN` (opened
   * once, then reused) and returns what comes back, in chunks of at most `chunkBytes`.
   * Fails if the peer cannot be reached or does not speak the protocol.
   */
  async *requestRange(
    addr: NodeAddr,
    request: Uint8Array,
    chunkBytes: number,
  ): AsyncGenerator<Uint8Array> {
    let connecting = this.rangeConnections.get(addr.nodeId)
    if (connecting === undefined) {
      connecting = this.iroh.node
        .endpoint()
        .connect({ nodeId: addr.nodeId, addresses: [...addr.addresses] }, utf8Bytes(RANGE_ALPN))
      this.rangeConnections.set(addr.nodeId, connecting)
      connecting.catch(() => this.rangeConnections.delete(addr.nodeId))
    }
    const stream = await (await connecting).openBi().catch((cause: unknown) => {
      this.rangeConnections.delete(addr.nodeId)
      throw cause
    })
    await stream.send.writeAll(request)
    await stream.send.finish()
    for (;;) {
      const buffer = new Uint8Array(chunkBytes)
      const read = await stream.recv.read(buffer)
      if (read === null) return
      if (read > 0n) yield buffer.subarray(0, Number(read))
    }
  }

  get closed(): boolean {
    return this.status.closed
  }

  /** Starts the node in a scope; closing the scope shuts it down (bounded wait). */
  static start = (config: IrohStoreConfig) =>
    Effect.gen(function* () {
      const dir = path.resolve(config.dir)
      const irohDir = path.join(dir, "iroh")
      const tmpDir = path.join(dir, "tmp")
      const pendingDir = path.join(dir, "pending")
      const key = yield* Effect.tryPromise({
        try: async () => {
          await fs.mkdir(dir, { recursive: true, mode: 0o700 })
          await fs.rm(tmpDir, { recursive: true, force: true })
          await fs.mkdir(tmpDir, { recursive: true })
          await fs.mkdir(pendingDir, { recursive: true })
          return loadSecretKey(path.join(dir, "secret.key"))
        },
        catch: (cause) => ioError(dir, cause),
      })
      const status = { closed: false }
      const ranges: { serve?: (connection: Connection) => void } = {}
      const shutdownTimeout = config.shutdownTimeoutMillis ?? 5_000
      const iroh = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () =>
            Iroh.persistent(irohDir, {
              nodeDiscovery: NoDiscovery,
              ipv4Addr: config.ipv4Addr ?? "0.0.0.0:0",
              ipv6Addr: config.ipv6Addr ?? "[::]:0",
              gcIntervalMillis: config.gcIntervalMillis ?? 60_000,
              secretKey: [...key],
              protocols: {
                [RANGE_ALPN]: () => ({
                  accept: (error: Error | null, connection: Connection) => {
                    if (error !== null) return
                    if (ranges.serve === undefined) connection.close(0n, new Uint8Array(0))
                    else ranges.serve(connection)
                  },
                }),
              } as unknown as NonNullable<NodeOptions["protocols"]>,
            }),
          catch: (cause) => ioError(irohDir, cause),
        }),
        (node) =>
          Effect.promise(async () => {
            status.closed = true
            const outcome = await Promise.race([
              node.node.shutdown().then(
                () => "done" as const,
                () => "failed" as const,
              ),
              sleep(shutdownTimeout).then(() => "timeout" as const),
            ])
            return outcome
          }).pipe(
            Effect.tap((outcome) =>
              outcome === "done"
                ? Effect.void
                : Effect.logWarning(
                    `Iroh shutdown ${outcome} after ${shutdownTimeout} ms; not waiting longer`,
                  ),
            ),
          ),
      )
      const nodeId = yield* Effect.tryPromise({
        try: () => iroh.net.nodeId(),
        catch: (cause) => ioError(irohDir, cause),
      })
      return new IrohNode({ iroh, dir, irohDir, tmpDir, pendingDir, nodeId, status, ranges })
    })

  /** Fails with StoreClosed once the store's scope has closed. */
  readonly ensureOpen: Effect.Effect<void, StoreClosed> = Effect.suspend(() =>
    this.status.closed ? Effect.fail(new StoreClosed()) : Effect.void,
  )

  /** A call into Iroh, refused after close; failures become IoError/DiskFull (StoreClosed if closing). */
  call<A>(
    f: (iroh: Iroh) => Promise<A>,
    where: string = this.irohDir,
  ): Effect.Effect<A, StoreError> {
    return Effect.suspend(() => {
      if (this.status.closed) return Effect.fail(new StoreClosed())
      return Effect.tryPromise({
        try: () => f(this.iroh),
        catch: (cause) => (this.status.closed ? new StoreClosed() : ioError(where, cause)),
      })
    })
  }

  /** Where Iroh keeps a complete blob bigger than 16 KiB (iroh-blobs 0.35 fs store layout). */
  dataFile(hash: BlobHash): string {
    return path.join(this.irohDir, "blobs", "data", `${hash}.data`)
  }

  outboardFile(hash: BlobHash): string {
    return path.join(this.irohDir, "blobs", "data", `${hash}.obao4`)
  }

  addFromPath(
    file: string,
    tag: string,
  ): Effect.Effect<{ hash: BlobHash; size: number }, StoreError> {
    return this.call(async (iroh) => {
      let hash: string | undefined
      let size = 0
      let failure: Error | undefined
      await iroh.blobs.addFromPath(
        file,
        false,
        SetTagOption.named(utf8(tag)),
        { wrap: false },
        (err, ev) => {
          if (err) failure ??= err
          else if (ev.found) size = Number(ev.found.size)
          else if (ev.allDone) hash = ev.allDone.hash
        },
      )
      if (failure) throw failure
      if (hash === undefined) throw new Error(`adding ${file} ended without a hash`)
      return { hash: irohToHex(hash), size }
    }, file)
  }

  /**
   * `blobs.download` resolves even when it failed: the error only arrives in
   * the progress callback, so the outcome carries it.
   */
  download(
    hash: BlobHash,
    format: BlobFormat,
    nodes: ReadonlyArray<NodeAddr>,
    tag: string,
    onEvent?: (event: DownloadProgress) => void,
  ): Effect.Effect<DownloadOutcome, StoreError> {
    return this.call(
      (iroh) =>
        new Promise<DownloadOutcome>((resolve) => {
          let error: Error | undefined
          let complete = false
          try {
            const options = new BlobDownloadOptions(
              format,
              [...nodes],
              SetTagOption.named(utf8(tag)),
            )
            iroh.blobs
              .download(hash, options, (err, ev) => {
                if (err) {
                  error ??= err
                  return
                }
                if (ev.allDone) complete = true
                onEvent?.(ev)
              })
              .then(
                () => resolve({ error, complete: complete && error === undefined }),
                (e: unknown) =>
                  resolve({
                    error: e instanceof Error ? e : new Error(String(e)),
                    complete: false,
                  }),
              )
          } catch (e) {
            resolve({ error: e instanceof Error ? e : new Error(String(e)), complete: false })
          }
        }),
    )
  }

  /** Points `tag` at a blob that is complete here; false if it is not. No network. */
  tagLocal(hash: BlobHash, format: BlobFormat, tag: string): Effect.Effect<boolean, StoreError> {
    return Effect.map(this.download(hash, format, [], tag), (o) => o.complete)
  }

  /**
   * Stores a collection under a named tag and removes other tags in the same
   * call: Iroh's JS binding has no other way to delete a tag by name.
   */
  createCollection(
    entries: ReadonlyArray<CollectionEntry>,
    tag: string,
    tagsToDelete: ReadonlyArray<string>,
  ): Effect.Effect<BlobHash, StoreError> {
    return this.call(async (iroh) => {
      const collection = new Collection()
      for (const e of entries) collection.push(e.name, e.hash)
      const res = await iroh.blobs.createCollection(collection, SetTagOption.named(utf8(tag)), [
        ...tagsToDelete,
      ])
      return irohToHex(res.hash)
    })
  }

  listCollectionTags(): Effect.Effect<ReadonlyArray<{ tag: string; hash: BlobHash }>, StoreError> {
    return this.call(async (iroh) =>
      (await iroh.blobs.listCollections()).map((c) => ({
        tag: Buffer.from(c.tag).toString("utf8"),
        hash: irohToHex(c.hash),
      })),
    )
  }

  getCollection(hash: BlobHash): Effect.Effect<ReadonlyArray<CollectionEntry>, StoreError> {
    return this.call(async (iroh) =>
      (await iroh.blobs.getCollection(hash))
        .blobs()
        .map((b) => ({ name: b.name, hash: irohToHex(b.link) })),
    )
  }

  /** Removes the (last-named) tag pointing at `hash` and the blob's bytes, even if other things use them. */
  deleteBlob(hash: BlobHash): Effect.Effect<void, StoreError> {
    return this.call((iroh) => iroh.blobs.deleteBlob(hash))
  }

  has(hash: BlobHash): Effect.Effect<boolean, StoreError> {
    return this.call((iroh) => iroh.blobs.has(hash))
  }

  /**
   * Returns once everything written to the store before the call is committed to disk.
   *
   * iroh-blobs 0.35's fs store (src/store/fs.rs, `BatchOptions`) gathers writes in one redb
   * transaction that commits after `max_write_batch` = 1,000 messages or
   * `max_write_duration` = 500 ms, so a write Iroh has answered can be lost to `kill -9`
   * for up to half a second; its `sync()` is not exposed to JavaScript. Every message the
   * store's actor handles counts toward the batch, read-only status queries included:
   * 1,000 of them end any open write transaction, and one more, answered only after the
   * actor has committed it, says the commit is done. Checked by a test that kills a process
   * right after `flush` and reopens its store.
   */
  sync(): Effect.Effect<void, StoreError> {
    return this.call(async (iroh) => {
      await Promise.all(
        Array.from({ length: WRITE_BATCH_MESSAGES }, () => iroh.blobs.has(SYNC_PROBE_HASH)),
      )
      await iroh.blobs.has(SYNC_PROBE_HASH)
    })
  }

  /** Size of a complete blob, undefined if there is none. */
  completeSize(hash: BlobHash): Effect.Effect<number | undefined, StoreError> {
    return this.call(async (iroh) => {
      const status = await iroh.blobs.status(hash)
      return status.type === "Complete" ? Number(status.size) : undefined
    })
  }

  readToBytes(hash: BlobHash): Effect.Effect<Uint8Array, StoreError> {
    return this.call(async (iroh) => Uint8Array.from(await iroh.blobs.readToBytes(hash)))
  }

  exportCopy(hash: BlobHash, destination: string): Effect.Effect<void, StoreError> {
    return this.call(
      (iroh) => iroh.blobs.export(hash, destination, ExportBlob, ExportCopy),
      destination,
    )
  }

  /**
   * Opens (and closes) a QUIC connection to a peer on the blobs ALPN. A
   * download cannot be cancelled from JS, and one left running keeps Iroh
   * from deleting its blob and may set its tag later; a connection attempt
   * holds nothing, so unreachable peers are found out this way first.
   */
  probe(
    addr: NodeAddr,
    timeoutMillis: number,
  ): Effect.Effect<"ok" | "timeout" | Error, StoreError> {
    return this.call((iroh) =>
      Promise.race([
        iroh.node
          .endpoint()
          .connect({ nodeId: addr.nodeId, addresses: [...addr.addresses] }, blobsAlpn)
          .then(
            (conn) => {
              conn.close(0n, new Uint8Array())
              return "ok" as const
            },
            (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
          ),
        sleep(timeoutMillis).then(() => "timeout" as const),
      ]),
    )
  }

  nodeAddr(): Effect.Effect<NodeAddr, StoreError> {
    return this.call(async (iroh) => {
      const addr = await iroh.net.nodeAddr()
      return { nodeId: addr.nodeId, addresses: addr.addresses ?? [] }
    })
  }
}
