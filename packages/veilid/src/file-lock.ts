// Whole-process file locks from the native addon (src/lock.rs). Node has none of its own;
// a process that runs a Veilid node takes one on its data dir before the node starts, so
// two processes never share a node's stores. The kernel releases it when the process
// dies, however it ends.
import { Effect, Option } from "effect"
import { bindingError, type VeilidError } from "./errors.ts"
import { loadNative } from "./native.ts"

const call = <A>(what: string, f: () => A): Effect.Effect<A, VeilidError> =>
  Effect.try({
    try: f,
    catch: (cause) => bindingError(`${what}: ${(cause as Error).message}`, cause),
  })

/**
 * Takes the exclusive lock on `path` (created 0600) for the rest of this process's life and
 * writes `owner` into it. `None` when taken (or already held by this process); otherwise
 * `Some` of the text the current holder wrote. Never open the file from the process that
 * holds it for anything else than this module: on systems without Linux's
 * open-file-description locks a stray close could drop the lock.
 */
export const lockFile = (
  path: string,
  owner: string,
): Effect.Effect<Option.Option<string>, VeilidError> =>
  Effect.flatMap(loadNative, (native) =>
    call(`lock ${path}`, () => Option.fromNullishOr(native.lockFile(path, owner))),
  )

/** The text the holder of the lock on `path` wrote, or `None` when no process holds it. */
export const lockFileHolder = (path: string): Effect.Effect<Option.Option<string>, VeilidError> =>
  Effect.flatMap(loadNative, (native) =>
    call(`lock holder of ${path}`, () => Option.fromNullishOr(native.lockFileHolder(path))),
  )

/** Gives back a lock this process holds; `false` if it held none on `path`. */
export const unlockFile = (path: string): Effect.Effect<boolean, VeilidError> =>
  Effect.flatMap(loadNative, (native) => call(`unlock ${path}`, () => native.unlockFile(path)))
