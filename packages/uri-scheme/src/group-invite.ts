import { Schema } from "effect"
import { Capability } from "./capability.ts"
import { DisplayName } from "./display-name.ts"
import { RecordKey } from "./record-key.ts"

/** `save+dweb:invite?...`: joins a group with exactly one capability tier. */
export class GroupInvite extends Schema.TaggedClass<GroupInvite>()("GroupInvite", {
  /** The group's DHT record key. */
  group: RecordKey,
  capability: Capability,
  /** Display-name hint, shown before the group record is fetched. */
  name: Schema.optionalKey(DisplayName),
}) {}
