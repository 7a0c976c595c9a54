// The file alice shares: random bytes of a size, or a file on disk (checked before anything
// starts).
import { stat } from "node:fs/promises"
import { Data, Effect } from "effect"

export type FileSource =
  | { readonly _tag: "Random"; readonly bytes: number }
  | { readonly _tag: "Path"; readonly path: string }

export class FileUnreadable extends Data.TaggedError("FileUnreadable")<{
  readonly path: string
  readonly message: string
}> {}

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
