// The file alice shares: random bytes made on the fly, or a file on disk, as a byte stream.
import { randomBytes } from "node:crypto"
import { createReadStream } from "node:fs"
import { stat } from "node:fs/promises"
import { basename } from "node:path"
import { Data, Effect, Stream } from "effect"

export type FileSource =
  | { readonly _tag: "Random"; readonly bytes: number }
  | { readonly _tag: "Path"; readonly path: string }

export class FileUnreadable extends Data.TaggedError("FileUnreadable")<{
  readonly path: string
  readonly message: string
}> {}

const PIECE_BYTES = 256 * 1024

/** The name alice gives the file (what bob asks for). */
export const fileName = (source: FileSource): string =>
  source._tag === "Path" ? basename(source.path) : `random-${source.bytes}.bin`

/** Fails early, before any network starts, when a path is not a readable file. */
export const checkFile = (source: FileSource): Effect.Effect<void, FileUnreadable> =>
  source._tag === "Random"
    ? Effect.void
    : Effect.tryPromise({
        try: () => stat(source.path),
        catch: (error) =>
          new FileUnreadable({
            path: source.path,
            message: `cannot read ${source.path}: ${(error as Error).message}`,
          }),
      }).pipe(
        Effect.flatMap((info) =>
          info.isFile()
            ? Effect.void
            : Effect.fail(
                new FileUnreadable({
                  path: source.path,
                  message: `${source.path} is not a file`,
                }),
              ),
        ),
      )

/** The file's bytes in pieces of 256 KiB; random bytes are made as they are read. */
export const fileStream = (source: FileSource): Stream.Stream<Uint8Array, FileUnreadable> => {
  if (source._tag === "Path") {
    return Stream.fromAsyncIterable(
      createReadStream(source.path, { highWaterMark: PIECE_BYTES }) as AsyncIterable<Buffer>,
      (error) =>
        new FileUnreadable({
          path: source.path,
          message: `reading ${source.path}: ${(error as Error).message}`,
        }),
    ).pipe(Stream.map((chunk) => new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)))
  }
  const pieces = Math.ceil(source.bytes / PIECE_BYTES)
  if (pieces === 0) return Stream.empty
  return Stream.range(0, pieces - 1, 1).pipe(
    Stream.map((i) => {
      const length = Math.min(PIECE_BYTES, source.bytes - i * PIECE_BYTES)
      return new Uint8Array(randomBytes(length))
    }),
  )
}
