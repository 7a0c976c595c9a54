// Reading a blob while a fetch brings it: the fetch notes, per blob, which file holds
// its leading bytes and how many are there; a reader follows that prefix until the
// fetch ends, then reads the rest from the store. The bytes of the prefix are in order
// but not yet checked against the blob's hash (a tunnel source's are checked at the
// end; Iroh checks each chunk group before it writes it): a reader that hands them on
// must authenticate them itself, as the data repo's file records do.
import type { FileHandle } from "node:fs/promises"
import * as fs from "node:fs/promises"
import { Effect, Exit, Option, Stream } from "effect"
import { ioError, type StoreError } from "./errors.ts"
import type { BlobHash } from "./hash.ts"
import { nodeErrorCode } from "./shared.ts"

/**
 * Where the first `bytes` bytes of a blob being fetched can be read: a file (Iroh's data
 * file, a tunnel fetch's temp file) or the chunks kept so far (the memory layer).
 */
export type PrefixHolder = string | ReadonlyArray<Uint8Array>

export interface Prefix {
  readonly holder: PrefixHolder
  readonly bytes: number
}

/** The prefixes of the blobs this store is fetching now, as the fetch attempts note them. */
export class Prefixes {
  private readonly byHash = new Map<BlobHash, Prefix>()
  /** Bumped at every change of a blob's prefix, so a reader can wait for the next. */
  private readonly versions = new Map<BlobHash, number>()
  private readonly waiters = new Map<BlobHash, Set<() => void>>()

  /** An attempt put the blob's first `bytes` bytes in `holder` (a count never goes down in one). */
  note(hash: BlobHash, holder: PrefixHolder, bytes: number): void {
    const known = this.byHash.get(hash)
    if (known !== undefined && known.holder === holder && known.bytes >= bytes) return
    this.byHash.set(hash, { holder, bytes })
    this.changed(hash)
  }

  /** The attempt that filled `holder` ended: its prefix is no longer read. */
  forget(hash: BlobHash, holder: PrefixHolder): void {
    if (this.byHash.get(hash)?.holder !== holder) return
    this.byHash.delete(hash)
    this.changed(hash)
  }

  get(hash: BlobHash): Prefix | undefined {
    return this.byHash.get(hash)
  }

  version(hash: BlobHash): number {
    return this.versions.get(hash) ?? 0
  }

  /** Wakes the readers of `hash` (its prefix changed, or its fetch ended). */
  changed(hash: BlobHash): void {
    this.versions.set(hash, this.version(hash) + 1)
    const waiting = this.waiters.get(hash)
    if (waiting === undefined) return
    this.waiters.delete(hash)
    for (const wake of waiting) wake()
  }

  /**
   * Returns once `hash` has changed since `seen` (its `version` then). No clock: a reader
   * sleeps until a fetch writes or ends, whatever time that takes.
   */
  after(hash: BlobHash, seen: number): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (this.version(hash) !== seen) return resume(Effect.void)
      const wake = () => resume(Effect.void)
      const waiting = this.waiters.get(hash) ?? new Set<() => void>()
      waiting.add(wake)
      this.waiters.set(hash, waiting)
      return Effect.sync(() => {
        waiting.delete(wake)
        if (waiting.size === 0 && this.waiters.get(hash) === waiting) this.waiters.delete(hash)
      })
    })
  }

  /** Drops what is kept of a blob nobody fetches or waits for any more. */
  done(hash: BlobHash): void {
    if (!this.byHash.has(hash) && !this.waiters.has(hash)) this.versions.delete(hash)
  }
}

/**
 * Runs `fetch` (which brings `hash` into the store) and streams the blob's bytes from
 * its start as they arrive: from the prefix the fetch notes while it runs, then, once it
 * has ended well, the rest through `readRest` (the store's read from an offset). A fetch
 * that fails fails the stream; the stream's end interrupts a fetch still running.
 */
export const followPrefix = <E, E2>(
  prefixes: Prefixes,
  hash: BlobHash,
  fetch: Effect.Effect<unknown, E>,
  readRest: (offset: number) => Stream.Stream<Uint8Array, E2>,
  chunkBytes: number,
): Stream.Stream<Uint8Array, E | E2 | StoreError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      let ended: Exit.Exit<unknown, E> | undefined
      yield* Effect.forkScoped(
        Effect.onExit(fetch, (exit) =>
          Effect.sync(() => {
            ended = exit
            prefixes.changed(hash)
          }),
        ),
      )
      let emitted = 0
      let open: { readonly file: string; readonly handle: FileHandle } | undefined
      const close = () => {
        const handle = open?.handle
        open = undefined
        return handle === undefined ? Promise.resolve() : handle.close().catch(() => {})
      }
      yield* Effect.addFinalizer(() =>
        Effect.promise(close).pipe(Effect.andThen(Effect.sync(() => prefixes.done(hash)))),
      )

      /** Up to `length` bytes of `holder` at `position`; undefined when its file is gone. */
      const readAt = (
        holder: PrefixHolder,
        position: number,
        length: number,
      ): Effect.Effect<Uint8Array | undefined, StoreError> =>
        typeof holder === "string"
          ? readFileAt(holder, position, length)
          : Effect.sync(() => sliceAt(holder, position, length))
      const readFileAt = (file: string, position: number, length: number) =>
        Effect.tryPromise({
          try: async () => {
            if (open?.file !== file) {
              await close()
              try {
                open = { file, handle: await fs.open(file, "r") }
              } catch (cause) {
                if (nodeErrorCode(cause) === "ENOENT") return undefined
                throw cause
              }
            }
            const buffer = Buffer.allocUnsafe(length)
            const { bytesRead } = await open.handle.read(buffer, 0, length, position)
            return buffer.subarray(0, bytesRead)
          },
          catch: (cause) => ioError(file, cause),
        })

      const arriving = Stream.paginate(undefined, () =>
        Effect.gen(function* () {
          while (true) {
            const seen = prefixes.version(hash)
            if (ended !== undefined) {
              if (Exit.isFailure(ended)) return yield* Effect.failCause(ended.cause)
              return [[], Option.none()] as const
            }
            const prefix = prefixes.get(hash)
            if (prefix !== undefined && prefix.bytes > emitted) {
              const length = Math.min(chunkBytes, prefix.bytes - emitted)
              const chunk = yield* readAt(prefix.holder, emitted, length)
              if (chunk !== undefined && chunk.length > 0) {
                emitted += chunk.length
                return [[chunk], Option.some(undefined)] as const
              }
            }
            yield* prefixes.after(hash, seen)
          }
        }),
      )
      return Stream.concat(
        arriving,
        Stream.suspend(() => readRest(emitted)),
      )
    }),
  )

/** Up to `length` bytes at `position` of the bytes `chunks` hold in order (no copy). */
const sliceAt = (chunks: ReadonlyArray<Uint8Array>, position: number, length: number) => {
  let start = 0
  for (const chunk of chunks) {
    const end = start + chunk.length
    if (position < end) {
      const from = position - start
      return chunk.subarray(from, Math.min(chunk.length, from + length))
    }
    start = end
  }
  return undefined
}
