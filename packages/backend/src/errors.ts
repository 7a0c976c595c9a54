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
}> {}
