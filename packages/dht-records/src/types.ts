import type { KeyPair, PublicKey, RecordKey } from "@save-dweb/veilid"
import type { ReadError } from "./errors.ts"

export type { KeyPair, PublicKey, RecordKey }

/** A subkey's decoded value with its place in the record's history. */
export interface Entry<A> {
  readonly subkey: number
  /** Veilid's sequence number: 0 for the first write, one more for each later write. */
  readonly seq: number
  /** Public key that signed this value (owner or member). */
  readonly writer: PublicKey
  readonly value: A
}

/**
 * The DHT schema of a new record.
 *
 * - `DFLT`: `subkeys` subkeys, all written by the owner (or whoever holds the owner key
 *   pair).
 * - `SMPL`: `ownerSubkeys` owner subkeys first, then each member's `subkeys` subkeys in
 *   the order given: member i writes only its own range (see `RecordLayout`). The owner
 *   cannot write a member's subkeys. At most 256 members and 256 writers (the owner
 *   counts as one when `ownerSubkeys > 0`), and 1024 subkeys in all.
 */
export type RecordSchema =
  | { readonly kind: "DFLT"; readonly subkeys: number }
  | {
      readonly kind: "SMPL"
      readonly ownerSubkeys: number
      readonly members: ReadonlyArray<{ readonly writer: PublicKey; readonly subkeys: number }>
    }

/** Subkeys `start` (inclusive) to `end` (exclusive). */
export interface SubkeySpan {
  readonly start: number
  readonly end: number
}

/** Who writes which subkeys of an open record, and how large a value may be. */
export interface RecordLayout {
  readonly kind: "DFLT" | "SMPL"
  readonly subkeyCount: number
  readonly owner: PublicKey
  readonly ownerSubkeys: SubkeySpan
  /** SMPL members in schema order; `memberId` is Veilid's member id (for VLD0, the public key). */
  readonly members: ReadonlyArray<{ readonly memberId: string; readonly subkeys: SubkeySpan }>
  /** Largest sealed value per subkey, in bytes: `min(32768, floor(1048576 / subkeyCount))`. */
  readonly maxSealedSize: number
}

/** Per subkey: the sequence number held here and the one the network reported. */
export interface SubkeySeqs {
  readonly subkey: number
  readonly local: number | undefined
  readonly network: number | undefined
}

export interface Inspection {
  readonly subkeys: ReadonlyArray<SubkeySeqs>
  /** Subkeys written here but not yet accepted by the network (queued by Veilid). */
  readonly offlineSubkeys: ReadonlyArray<number>
}

/** What a watch stream reports: a newer value, or one that could not be read. */
export type WatchEvent<A> =
  | ({ readonly _tag: "Changed" } & Entry<A>)
  | {
      readonly _tag: "Unreadable"
      readonly subkey: number
      readonly seq: number
      readonly writer: PublicKey
      readonly error: ReadError
    }
