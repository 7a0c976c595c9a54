// A stored file's plaintext, from its start or from any byte: a version-2 file is read
// from the record that holds the byte (its header, then the store's bytes from that
// record on), so the end of a large file costs one record, not the whole file.
import type { BlobHash, BlobStoreService, ReadOptions, Source } from "@save-dweb/blob-store"
import {
  concatBytes,
  decryptFileStream,
  FILE_HEADER_BYTES,
  InvalidEnvelope,
  readFileLayout,
  recordOffset,
  recordOfOffset,
  type SecretKey,
} from "@save-dweb/crypto"
import { Effect, Stream } from "effect"
import { FILE_AD } from "./manifest.ts"
import type { OnFetchProgress } from "./repo-fetch.ts"
import type { ReadFileOptions } from "./repo-shape.ts"

/**
 * Bytes of a local file read at a time, all into one buffer per reading of the file (the
 * decryptor is done with each read before it pulls the next; see blob-store's
 * `ReadOptions`). 64 KiB reads into fresh buffers decrypted at a third to a half of this
 * speed in process (rpc-server README, Benchmark); 1 MiB reads into fresh buffers grew a
 * serving daemon's heap by ~100 MiB (apps/daemon README, Memory).
 */
const READ_BUFFER_BYTES = 1024 * 1024

/** Read options giving each run of a stream its own buffer. */
const intoFresh = <A, E, R>(
  read: (options: ReadOptions) => Stream.Stream<A, E, R>,
): Stream.Stream<A, E, R> => Stream.suspend(() => read({ into: new Uint8Array(READ_BUFFER_BYTES) }))

/** `stream` without its first `count` bytes. */
export const dropBytes =
  (count: number) =>
  <E, R>(stream: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
    count <= 0
      ? stream
      : Stream.suspend(() => {
          let left = count
          return stream.pipe(
            Stream.map((chunk) => {
              if (left === 0) return chunk
              const skip = Math.min(left, chunk.length)
              left -= skip
              return chunk.subarray(skip)
            }),
            Stream.filter((chunk) => chunk.length > 0),
          )
        })

/**
 * The plaintext of the encrypted file `hash` from byte `offset` on. Failures are the
 * store's and the crypto package's (mapped by the caller).
 */
export const decryptedFrom = (
  store: BlobStoreService,
  hash: BlobHash,
  fileKey: SecretKey,
  offset: number,
) => {
  const whole = () =>
    intoFresh((options) => store.read(hash, undefined, options)).pipe(
      decryptFileStream(fileKey, { associatedData: FILE_AD }),
      dropBytes(offset),
    )
  if (offset === 0) return whole()
  return Stream.unwrap(
    Effect.gen(function* () {
      const header = concatBytes(
        ...(yield* Stream.runCollect(store.read(hash, { offset: 0, length: FILE_HEADER_BYTES }))),
      )
      const layout = readFileLayout(header)
      // A damaged header, or a version-1 file (its records chain): read from the start,
      // where the decryptor reports what is wrong.
      if (layout instanceof InvalidEnvelope || layout.version === 1) return whole()
      const first = recordOfOffset(layout, offset)
      return Stream.concat(
        Stream.succeed(header),
        intoFresh((options) => store.read(hash, { offset: recordOffset(layout, first) }, options)),
      ).pipe(
        decryptFileStream(fileKey, { associatedData: FILE_AD, firstRecord: first }),
        dropBytes(offset - first * layout.chunkSize),
      )
    }),
  )
}

/** What `makeRepoFetch`'s functions take: the blob, the sources given, its size, progress. */
type FetchArgs = readonly [
  hash: BlobHash,
  given: ReadonlyArray<Source> | undefined,
  storedSize?: number,
  onProgress?: OnFetchProgress,
]

/** How a repo handle gets a file's bytes (its `makeRepoFetch`). */
export interface FileBytes<E> {
  readonly store: BlobStoreService
  readonly readFetching: (
    ...args: [...FetchArgs, options?: ReadOptions]
  ) => Stream.Stream<Uint8Array, E>
  readonly ensureLocal: (...args: FetchArgs) => Effect.Effect<void, E>
}

/**
 * A file's plaintext from `options.offset` (default 0), fetched when not held here. From
 * the start, a file not held here is decrypted as it arrives: each record is authenticated
 * by the file key before its plaintext is handed out, so nothing a source made up gets
 * through. A later offset seeks in the local copy, so it waits for the whole file.
 */
export const filePlaintext = <E>(
  bytes: FileBytes<E>,
  entry: { readonly hash: BlobHash; readonly storedSize?: number },
  fileKey: SecretKey,
  options: ReadFileOptions = {},
) => {
  const offset = options.offset ?? 0
  const given = [entry.hash, options.sources, entry.storedSize, options.onFetchProgress] as const
  return offset === 0
    ? intoFresh((read) => bytes.readFetching(...given, read)).pipe(
        decryptFileStream(fileKey, { associatedData: FILE_AD }),
      )
    : Stream.unwrap(
        Effect.as(
          bytes.ensureLocal(...given),
          decryptedFrom(bytes.store, entry.hash, fileKey, offset),
        ),
      )
}
