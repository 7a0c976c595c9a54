import { Data } from "effect"
import type { BlobHash } from "./hash.ts"

/**
 * The largest blob a source may announce when the fetch does not know the size (1 TiB):
 * a peer cannot make a store start writing an endless stream.
 */
export const MAX_BLOB_BYTES = 2 ** 40

/** The store holds no complete blob with this hash. */
export class BlobNotFound extends Data.TaggedError("BlobNotFound")<{ readonly hash: string }> {
  override get message() {
    return `blob ${this.hash} is not in the store`
  }
}

/** A byte range that does not lie inside the blob. */
export class InvalidRange extends Data.TaggedError("InvalidRange")<{
  readonly hash: BlobHash
  readonly offset: number
  readonly length: number | undefined
  readonly size: number
}> {
  override get message() {
    return `range offset=${this.offset} length=${this.length ?? "rest"} is outside blob ${this.hash} of ${this.size} bytes`
  }
}

/** Entries that cannot form a collection, or a hash that is not one. */
export class InvalidCollection extends Data.TaggedError("InvalidCollection")<{
  readonly reason: string
  readonly hash?: BlobHash
}> {
  override get message() {
    return `invalid collection${this.hash ? ` ${this.hash}` : ""}: ${this.reason}`
  }
}

/** The store's scope was closed; nothing more can be done with it. */
export class StoreClosed extends Data.TaggedError("StoreClosed") {
  override get message() {
    return "the blob store is closed"
  }
}

/** A file-system or Iroh failure, with the path it concerns. */
export class IoError extends Data.TaggedError("IoError")<{
  readonly path: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message() {
    return `I/O error at ${this.path}: ${this.reason}`
  }
}

/** No space left on the device holding `path`. */
export class DiskFull extends Data.TaggedError("DiskFull")<{ readonly path: string }> {
  override get message() {
    return `no space left on the device of ${this.path}`
  }
}

// Why one source could not deliver. A fetch drops the source and goes on
// with the others; these end up in `AllSourcesFailed.failures`.

export class SourceUnreachable extends Data.TaggedError("SourceUnreachable")<{
  readonly source: string
  readonly reason: string
}> {
  override get message() {
    return `source ${this.source} is unreachable: ${this.reason}`
  }
}

export class SourceTimeout extends Data.TaggedError("SourceTimeout")<{
  readonly source: string
  readonly afterMillis: number
}> {
  override get message() {
    return `source ${this.source} sent nothing for ${this.afterMillis} ms`
  }
}

export class NotFoundAtSource extends Data.TaggedError("NotFoundAtSource")<{
  readonly source: string
  readonly hash: BlobHash
}> {
  override get message() {
    return `source ${this.source} does not have ${this.hash}`
  }
}

/** Bytes from a source whose BLAKE3 hash is not the one asked for. */
export class HashMismatch extends Data.TaggedError("HashMismatch")<{
  readonly source: string
  readonly expected: BlobHash
  readonly actual: BlobHash
}> {
  override get message() {
    return `source ${this.source} sent bytes hashing to ${this.actual}, expected ${this.expected}`
  }
}

/**
 * A source announced a blob size other than the one the caller expects (the manifest's),
 * or over `MAX_BLOB_BYTES`: refused before any byte of it is written.
 */
export class UnexpectedSize extends Data.TaggedError("UnexpectedSize")<{
  readonly source: string
  readonly hash: BlobHash
  readonly announced: number
  /** The size the fetch asked for, when it knew one. */
  readonly expected: number | undefined
}> {
  override get message() {
    return this.expected === undefined
      ? `source ${this.source} announced ${this.announced} bytes for ${this.hash}, over the ${MAX_BLOB_BYTES} bytes a blob may have`
      : `source ${this.source} announced ${this.announced} bytes for ${this.hash}, expected ${this.expected}`
  }
}

export class UnsupportedSource extends Data.TaggedError("UnsupportedSource")<{
  readonly source: string
  readonly transport: string
}> {
  override get message() {
    return `source ${this.source}: this store cannot use ${this.transport} sources`
  }
}

export class SourceError extends Data.TaggedError("SourceError")<{
  readonly source: string
  readonly reason: string
}> {
  override get message() {
    return `source ${this.source} failed: ${this.reason}`
  }
}

export type SourceFailure =
  | SourceUnreachable
  | SourceTimeout
  | NotFoundAtSource
  | HashMismatch
  | UnexpectedSize
  | UnsupportedSource
  | SourceError

/** A fetch was given no source to fetch from. */
export class NoSource extends Data.TaggedError("NoSource")<{ readonly hash: BlobHash }> {
  override get message() {
    return `no source given to fetch ${this.hash} from`
  }
}

/** Every source failed before the fetch was complete; `failures` says why, per source. */
export class AllSourcesFailed extends Data.TaggedError("AllSourcesFailed")<{
  readonly hash: BlobHash
  readonly failures: ReadonlyArray<SourceFailure>
}> {
  override get message() {
    return `could not fetch ${this.hash}: ${this.failures.map((f) => f.message).join("; ")}`
  }
}

export type StoreError = StoreClosed | IoError | DiskFull

/** A failure of this store, which no other source can help with. */
export const isStoreError = (e: { readonly _tag: string }): e is StoreError =>
  e._tag === "StoreClosed" || e._tag === "IoError" || e._tag === "DiskFull"
export type FetchError = NoSource | AllSourcesFailed | InvalidCollection | StoreError

/** Maps a Node or Iroh failure to a typed error. */
export const ioError = (path: string, cause: unknown): IoError | DiskFull => {
  const code = (cause as { code?: unknown } | null)?.code
  const reason = cause instanceof Error ? (cause.message.split("\n")[0] ?? "") : String(cause)
  if (code === "ENOSPC" || /no space left/i.test(reason)) return new DiskFull({ path })
  return new IoError({ path, reason, cause })
}
