import { Data } from "effect"

/**
 * Errors from veilid-core's API (`VeilidAPIError`, JSON tagged by `kind`), one class per
 * kind. `message` keeps veilid-core's own wording; `kind` is the original tag.
 */

/** The node is not started, or was shut down. */
export class VeilidNotInitialized extends Data.TaggedError("VeilidNotInitialized")<{
  readonly message: string
}> {}

/** A node with the same program_name + namespace is already running. */
export class VeilidAlreadyInitialized extends Data.TaggedError("VeilidAlreadyInitialized")<{
  readonly message: string
}> {}

/** An operation (or waiting for the network) took longer than allowed. */
export class VeilidTimeout extends Data.TaggedError("VeilidTimeout")<{
  readonly message: string
}> {}

/** Transient: not enough peers or routes yet; retrying later can succeed. */
export class VeilidTryAgain extends Data.TaggedError("VeilidTryAgain")<{
  readonly message: string
}> {}

/** The target (route, node) is unknown or unreachable. */
export class VeilidInvalidTarget extends Data.TaggedError("VeilidInvalidTarget")<{
  readonly message: string
}> {}

/** No connection to the network or to the target. */
export class VeilidNoConnection extends Data.TaggedError("VeilidNoConnection")<{
  readonly message: string
}> {}

/** The node is shutting down. */
export class VeilidShutdown extends Data.TaggedError("VeilidShutdown")<{
  readonly message: string
}> {}

/** A DHT record (or table key) is not open / not found. */
export class VeilidKeyNotFound extends Data.TaggedError("VeilidKeyNotFound")<{
  readonly message: string
  readonly key: string
}> {}

/** An argument was rejected (bad schema, subkey out of range, value too large...). */
export class VeilidInvalidArgument extends Data.TaggedError("VeilidInvalidArgument")<{
  readonly message: string
  readonly context: string
  readonly argument: string
  readonly value: string
}> {}

/** A required argument was missing. */
export class VeilidMissingArgument extends Data.TaggedError("VeilidMissingArgument")<{
  readonly message: string
  readonly context: string
  readonly argument: string
}> {}

/** A string (key, route id...) did not parse. */
export class VeilidParseError extends Data.TaggedError("VeilidParseError")<{
  readonly message: string
  readonly value: string
}> {}

/** A DHT transaction id is unknown. */
export class VeilidTransactionNotFound extends Data.TaggedError("VeilidTransactionNotFound")<{
  readonly message: string
}> {}

/** Not implemented by this build of veilid-core (e.g. a feature that is compiled out). */
export class VeilidUnimplemented extends Data.TaggedError("VeilidUnimplemented")<{
  readonly message: string
}> {}

/** veilid-core's `Generic` and `Internal` kinds, and anything this facade did not expect. */
export class VeilidInternal extends Data.TaggedError("VeilidInternal")<{
  readonly message: string
  /** veilid-core's kind (`Generic`, `Internal`...) or `Binding` for failures of this package. */
  readonly kind: string
  readonly cause?: unknown
}> {}

export type VeilidError =
  | VeilidNotInitialized
  | VeilidAlreadyInitialized
  | VeilidTimeout
  | VeilidTryAgain
  | VeilidInvalidTarget
  | VeilidNoConnection
  | VeilidShutdown
  | VeilidKeyNotFound
  | VeilidInvalidArgument
  | VeilidMissingArgument
  | VeilidParseError
  | VeilidTransactionNotFound
  | VeilidUnimplemented
  | VeilidInternal

const str = (value: unknown): string => (typeof value === "string" ? value : "")

/**
 * Maps a `VeilidAPIError` JSON value (`{ kind: "Timeout" }`, `{ kind: "TryAgain", message }`,
 * ...) to its tagged error. Unknown shapes become `VeilidInternal`.
 */
export const fromApiError = (error: unknown): VeilidError => {
  if (typeof error !== "object" || error === null || !("kind" in error)) {
    return new VeilidInternal({
      message: `unexpected veilid error: ${JSON.stringify(error)}`,
      kind: "Binding",
    })
  }
  const e = error as Record<string, unknown>
  const kind = str(e.kind)
  const message = str(e.message)
  switch (kind) {
    case "NotInitialized":
      return new VeilidNotInitialized({ message: "Not initialized" })
    case "AlreadyInitialized":
      return new VeilidAlreadyInitialized({ message: "Already initialized" })
    case "Timeout":
      return new VeilidTimeout({ message: "Timeout" })
    case "Shutdown":
      return new VeilidShutdown({ message: "Shutdown" })
    case "TryAgain":
      return new VeilidTryAgain({ message: `TryAgain: ${message}` })
    case "InvalidTarget":
      return new VeilidInvalidTarget({ message: `Invalid target: ${message}` })
    case "NoConnection":
      return new VeilidNoConnection({ message: `No connection: ${message}` })
    case "KeyNotFound":
      return new VeilidKeyNotFound({ message: `Key not found: ${str(e.key)}`, key: str(e.key) })
    case "InvalidArgument":
      return new VeilidInvalidArgument({
        message: `Invalid argument: '${str(e.context)}' for '${str(e.argument)}' with value '${str(e.value)}'`,
        context: str(e.context),
        argument: str(e.argument),
        value: str(e.value),
      })
    case "MissingArgument":
      return new VeilidMissingArgument({
        message: `Missing argument: '${str(e.context)}' for '${str(e.argument)}'`,
        context: str(e.context),
        argument: str(e.argument),
      })
    case "ParseError":
      return new VeilidParseError({
        message: `Parse error: '${message}' with value '${str(e.value)}'`,
        value: str(e.value),
      })
    case "TransactionNotFound":
      return new VeilidTransactionNotFound({ message: `Transaction not found: ${message}` })
    case "Unimplemented":
      return new VeilidUnimplemented({ message: `Unimplemented: ${message}` })
    case "Generic":
      return new VeilidInternal({ message: `Generic: ${message}`, kind })
    case "Internal":
      return new VeilidInternal({ message: `Internal: ${message}`, kind })
    default:
      return new VeilidInternal({ message: `${kind}: ${message}`, kind })
  }
}

/** A failure of this binding itself (bad response shape, native call rejected...). */
export const bindingError = (message: string, cause?: unknown): VeilidInternal =>
  new VeilidInternal(
    cause === undefined ? { message, kind: "Binding" } : { message, kind: "Binding", cause },
  )

/**
 * Maps a rejection of the native module (an `Error` whose message may be the
 * `VeilidAPIError` JSON, as `VeilidNode.start` does) to a tagged error.
 */
export const fromNativeRejection = (cause: unknown): VeilidError => {
  const message = cause instanceof Error ? cause.message : String(cause)
  try {
    const parsed: unknown = JSON.parse(message)
    if (typeof parsed === "object" && parsed !== null && "kind" in parsed) {
      return fromApiError(parsed)
    }
  } catch {
    // not JSON: a binding-level failure
  }
  return bindingError(message, cause)
}
