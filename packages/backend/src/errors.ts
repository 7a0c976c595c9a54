import type { RecordKey } from "@save-dweb/veilid"
import { Data } from "effect"

/** No stored credentials for this group key: never created or joined here, or forgotten. */
export class UnknownGroup extends Data.TaggedError("UnknownGroup")<{
  readonly key: RecordKey
}> {}

/** Joining a group this backend already knows (load it instead). */
export class GroupAlreadyKnown extends Data.TaggedError("GroupAlreadyKnown")<{
  readonly key: RecordKey
}> {}

/** A stored known-group entry that does not decode (damaged table store). */
export class InvalidKnownGroup extends Data.TaggedError("InvalidKnownGroup")<{
  readonly key: RecordKey
  readonly message: string
}> {}

/** `ping` found no way to the member: no repo in that slot, or no route published. */
export class MemberUnreachable extends Data.TaggedError("MemberUnreachable")<{
  readonly key: RecordKey
  readonly slot: number
  readonly reason: string
  readonly message: string
}> {
  constructor(args: { readonly key: RecordKey; readonly slot: number; readonly reason: string }) {
    super({ ...args, message: `member ${args.slot} of group ${args.key}: ${args.reason}` })
  }
}

/**
 * Renaming another member: a member's slot is written by its holder alone (the manager's
 * write would race the member's own), so each member names itself.
 */
export class NotOwnSlot extends Data.TaggedError("NotOwnSlot")<{
  readonly key: RecordKey
  readonly slot: number
  readonly message: string
}> {}

/**
 * Asking who else holds a file needs a copy here: each holder's proof is checked against
 * this device's own bytes. A member without one pins the file first.
 */
export class NeedsLocalCopy extends Data.TaggedError("NeedsLocalCopy")<{
  readonly repo: RecordKey
  readonly name: string
  readonly message: string
}> {}

/** No repo with that key in the group, or no own repo (read and replicate tiers). */
export class UnknownRepo extends Data.TaggedError("UnknownRepo")<{
  readonly group: RecordKey
  readonly repo: RecordKey | "mine"
  readonly message: string
}> {}

/** A group this member cannot move to another device: no slot (read, replicate) or no repo yet. */
export class NotPairable extends Data.TaggedError("NotPairable")<{
  /** The group asked for; `undefined` when no group was named. */
  readonly key: RecordKey | undefined
  readonly reason: string
  readonly message: string
}> {
  constructor(args: { readonly key: RecordKey | undefined; readonly reason: string }) {
    super({
      ...args,
      message:
        args.key === undefined
          ? `nothing to pair: ${args.reason}`
          : `group ${args.key} cannot be paired: ${args.reason}`,
    })
  }
}

/** A pairing link that does not parse (`reason` says why; never its secrets). */
export class InvalidPairingLink extends Data.TaggedError("InvalidPairingLink")<{
  readonly reason: string
  readonly message: string
}> {
  constructor(args: { readonly reason: string }) {
    super({ ...args, message: `invalid pairing link: ${args.reason}` })
  }
}
