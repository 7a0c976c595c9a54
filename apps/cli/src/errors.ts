// Errors the CLI raises itself, before asking the daemon (main.ts maps them to exit codes).
import { Data } from "effect"

/** A mistake in what the person typed that the server never sees. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** A local file problem: output exists, input missing. */
export class LocalFileError extends Data.TaggedError("LocalFileError")<{
  readonly message: string
}> {}

/** `file add --wait-copies N`: the file did not reach N copies off this device in time. */
export class CopiesTimeout extends Data.TaggedError("CopiesTimeout")<{
  readonly message: string
}> {}
