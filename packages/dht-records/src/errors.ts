import { Data } from "effect"
import type { Entry, RecordKey } from "./types.ts"

/** What a failed DHT operation was doing. */
export type Operation =
  | "create"
  | "open"
  | "close"
  | "delete"
  | "get"
  | "set"
  | "watch"
  | "inspect"
  | "generateKeyPair"

/**
 * The network did not answer in time, even after bounded retries. `reason` is
 * Veilid's last answer: `Timeout`, `TryAgain` (not enough peers yet) or
 * `NoConnection`.
 */
export class RecordTimeout extends Data.TaggedError("RecordTimeout")<{
  readonly operation: Operation
  readonly key: RecordKey | undefined
  readonly reason: "Timeout" | "TryAgain" | "NoConnection"
  readonly attempts: number
  readonly message: string
}> {}

/** No such record on the network, or (for a handle) it is no longer open here. */
export class RecordNotFound extends Data.TaggedError("RecordNotFound")<{
  readonly operation: Operation
  readonly key: RecordKey
  readonly message: string
}> {}

/** This participant holds no key pair that may write the subkey. Nothing was sent. */
export class RecordNotWritable extends Data.TaggedError("RecordNotWritable")<{
  readonly key: RecordKey
  readonly subkey: number
  readonly message: string
}> {}

/**
 * A value did not open under the given key and associated data: wrong key, a value
 * moved from another record or subkey, or bytes that are not an envelope.
 */
export class RecordDecryptFailed extends Data.TaggedError("RecordDecryptFailed")<{
  readonly key: RecordKey
  readonly subkey: number
  readonly reason: "WrongKeyOrTampered" | "NotAnEnvelope"
  readonly message: string
}> {}

export type InvalidReason =
  /** The value does not match the subkey's Schema (on set), or its CBOR does not (on get). */
  | "Schema"
  /** The plaintext is not CBOR. */
  | "Cbor"
  /** The record definition has no Schema for this subkey. */
  | "NoSchemaForSubkey"
  /** The subkey is not in the record (at or beyond its subkey count). */
  | "SubkeyOutOfRange"
  /** A record definition or DHT schema that cannot be used. */
  | "Definition"

/** A value or request that does not fit the record's definition or schema. */
export class RecordInvalid extends Data.TaggedError("RecordInvalid")<{
  readonly key: RecordKey | undefined
  readonly subkey: number | undefined
  readonly reason: InvalidReason
  readonly message: string
}> {}

/**
 * A sealed value larger than the record allows per subkey: 32 KiB, or less when the
 * record has many subkeys (Veilid caps a record's data at 1 MiB in all, so a subkey
 * may hold at most `min(32768, floor(1048576 / subkeyCount))` bytes). Nothing was sent.
 */
export class RecordTooLarge extends Data.TaggedError("RecordTooLarge")<{
  readonly key: RecordKey
  readonly subkey: number
  /** Size of the sealed value in bytes. */
  readonly size: number
  /** Largest sealed value this record's subkeys take. */
  readonly limit: number
  readonly message: string
}> {}

/**
 * The network held a newer value (or a rival at the same sequence number) than the
 * one written, and kept it. `current` is that value, decoded; the write did not
 * happen. Read it, merge, and set again: the local copy is now up to date, so the
 * next write gets the next sequence number.
 */
export class RecordConflict extends Data.TaggedError("RecordConflict")<{
  readonly key: RecordKey
  readonly subkey: number
  readonly current: Entry<unknown>
  readonly message: string
}> {}

/** `RecordConflict` with `current` typed by the subkey's Schema. */
export interface RecordConflictOf<A> extends RecordConflict {
  readonly current: Entry<A>
}

/** Any other failure of Veilid (an internal error, shutdown...): a bug or a dying node. */
export class RecordFailed extends Data.TaggedError("RecordFailed")<{
  readonly operation: Operation
  readonly key: RecordKey | undefined
  readonly message: string
  readonly cause: unknown
}> {}

export type DhtRecordsError =
  | RecordTimeout
  | RecordNotFound
  | RecordNotWritable
  | RecordDecryptFailed
  | RecordInvalid
  | RecordTooLarge
  | RecordConflict
  | RecordFailed

/** What `get` and a watch may fail with when a value cannot be read. */
export type ReadError = RecordDecryptFailed | RecordInvalid
