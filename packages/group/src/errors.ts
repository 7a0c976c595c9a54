import type { DhtRecordsError, RecordKey } from "@save-dweb/dht-records"
import type { LinkError } from "@save-dweb/uri-scheme"
import { Data } from "effect"
import type { Tier } from "./tier.ts"

/** This participant has no (current) slot in the group: never joined, or left. */
export class NotAMember extends Data.TaggedError("NotAMember")<{
  readonly group: RecordKey
  readonly slot: number | undefined
  readonly message: string
}> {}

/**
 * The capability held does not allow the operation: a read link cannot write, a
 * replicate link cannot decrypt files, only the manager can hand out write links or
 * revoke. Nothing was sent.
 */
export class InsufficientCapability extends Data.TaggedError("InsufficientCapability")<{
  readonly operation: string
  readonly required: Tier
  readonly held: Tier
  readonly message: string
}> {}

/** The manager revoked this slot: its values are ignored by every reader. */
export class SlotRevoked extends Data.TaggedError("SlotRevoked")<{
  readonly group: RecordKey
  readonly slot: number
  readonly message: string
}> {}

/** Every member slot of the group record has been handed out (see README: rotation). */
export class GroupFull extends Data.TaggedError("GroupFull")<{
  readonly group: RecordKey
  readonly capacity: number
  readonly message: string
}> {}

export type InvalidInviteReason =
  /** Not a `save+dweb:` group invite (`cause` is the link error). */
  | "Malformed"
  /** The record is not a group record (wrong schema). */
  | "NotAGroup"
  /** The link's keys do not open the group's values. */
  | "WrongKey"
  /** The write key does not belong to the link's slot. */
  | "WrongWriter"
  /** The member of this slot left the group; a slot is never handed out twice. */
  | "SlotLeft"

/** An invite link (or the credentials in it) that cannot join the group. */
export class InvalidInvite extends Data.TaggedError("InvalidInvite")<{
  readonly reason: InvalidInviteReason
  readonly message: string
  readonly cause?: LinkError
}> {}

export type InvalidCredentialsReason =
  /** The bytes are not stored group credentials of a known version. */
  | "Malformed"
  /** The manage secret does not derive the record's owner key. */
  | "WrongOwner"
  | Exclude<InvalidInviteReason, "Malformed">

/** Stored credentials that cannot be decoded, or that do not open their group. */
export class InvalidCredentials extends Data.TaggedError("InvalidCredentials")<{
  readonly reason: InvalidCredentialsReason
  readonly message: string
}> {}

/** A group or member name that is not a display name (1–128 UTF-8 bytes, no controls). */
export class InvalidName extends Data.TaggedError("InvalidName")<{
  readonly name: string
  readonly message: string
}> {}

/** A slot number the operation cannot take (out of range, not handed out, the manager's own). */
export class InvalidSlot extends Data.TaggedError("InvalidSlot")<{
  readonly slot: number
  readonly message: string
}> {}

/** Anything a group operation can fail with. */
export type GroupError =
  | NotAMember
  | InsufficientCapability
  | SlotRevoked
  | GroupFull
  | InvalidInvite
  | InvalidCredentials
  | InvalidName
  | InvalidSlot
  | DhtRecordsError
