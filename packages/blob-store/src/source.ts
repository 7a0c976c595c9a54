import type { Peer } from "@save-dweb/tunnels"
import type { Stream } from "effect"
import type { SourceFailure } from "./errors.ts"
import type { BlobHash } from "./hash.ts"

/**
 * An Iroh node reachable over QUIC (the fast path). Iroh verifies every chunk
 * against the BLAKE3 tree as it arrives, so a wrong byte never lands.
 */
export interface IrohSource {
  readonly _tag: "IrohSource"
  /** Names the source in progress events and errors. */
  readonly id: string
  readonly nodeId: string
  /** Direct socket addresses, e.g. `127.0.0.1:4433`. */
  readonly addresses: ReadonlyArray<string>
}

/**
 * Anything that can stream a whole blob's bytes: the plug for transports that
 * are not Iroh peers (Veilid tunnels). The store hashes the bytes as they come
 * (BLAKE3) into a temp file and adds them only if the hash is the one asked
 * for: nothing unverified becomes visible.
 */
export interface ByteStreamSource {
  readonly _tag: "ByteStreamSource"
  readonly id: string
  readonly open: (hash: BlobHash) => Stream.Stream<Uint8Array, SourceFailure>
}

/**
 * A peer reached through a Veilid tunnel (its private route: no IP address of either side
 * is revealed), serving its store with `serveBlobs`. Make one with `tunnelSource(peer)` or
 * `connectTunnelSource(routeBlob, key)`. The bytes are checked like a `ByteStreamSource`'s.
 */
export interface TunnelSource {
  readonly _tag: "TunnelSource"
  readonly id: string
  readonly peer: Peer
  /** Default `save-dweb/blobs/1`. */
  readonly protocol: string
}

/** Another in-memory store in this process (only `layerMemory` can use it). */
export interface MemorySource {
  readonly _tag: "MemorySource"
  readonly id: string
  readonly storeId: string
}

export type Source = IrohSource | TunnelSource | ByteStreamSource | MemorySource

export interface FetchRequest {
  readonly hash: BlobHash
  /** A collection brings its hash sequence, its names and every member. */
  readonly kind: "blob" | "collection"
  readonly sources: ReadonlyArray<Source>
  /**
   * Per source and request: how long a source may send nothing (before its
   * first byte or between two progress reports) before it is dropped.
   * Default: the store's `fetchTimeoutMillis` (10 s).
   */
  readonly timeoutMillis?: number
  /**
   * The blob's size when the caller knows it (a manifest's entry): a tunnel or byte-stream
   * source announcing or sending another is dropped with `UnexpectedSize` before any byte
   * is written. Only for `kind: "blob"`; without it a source may announce up to
   * `MAX_BLOB_BYTES`.
   */
  readonly expectedSize?: number
  /** Requests in flight per source (collections). Default 16 for an Iroh source, 4 for others. */
  readonly concurrencyPerSource?: number
}

export interface SourceProgress {
  readonly source: string
  /** Verified bytes this source delivered. */
  readonly bytes: number
  /** Blobs this source completed. */
  readonly blobs: number
  readonly failure: SourceFailure | undefined
}

export interface FetchProgress {
  readonly _tag: "Progress"
  readonly bytesDone: number
  /** Sum of the sizes known so far (a collection's grow as members start). */
  readonly bytesTotal: number
  readonly blobsDone: number
  /** Blobs to have, hash sequence and names included; 0 until known. */
  readonly blobsTotal: number
  readonly sources: ReadonlyArray<SourceProgress>
}

export interface FetchSourceFailed {
  readonly _tag: "SourceFailed"
  readonly failure: SourceFailure
}

export interface FetchResult {
  readonly hash: BlobHash
  readonly kind: "blob" | "collection"
  /** Bytes of every blob fetched or already present (hash sequence and names included). */
  readonly bytes: number
  readonly blobs: number
  readonly sources: ReadonlyArray<SourceProgress>
}

export interface FetchDone {
  readonly _tag: "Done"
  readonly result: FetchResult
}

export type FetchEvent = FetchProgress | FetchSourceFailed | FetchDone
