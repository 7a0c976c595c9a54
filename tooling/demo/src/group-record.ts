// The demo's group record until packages/group exists: subkey 0 holds the group's name,
// subkey 1 the one member's repo pointer, reduced to what the demo needs from it: the
// member's tunnel route. Values are sealed by dht-records with the group's dht-values key.
import { defineRecord } from "@save-dweb/dht-records"
import { Schema } from "effect"

export const RepoPointer = Schema.Struct({
  /** Display name of the member who owns the repo. */
  member: Schema.String,
  /** The member's private route blob (Veilid): how members reach its tunnel. */
  route: Schema.Uint8Array,
})
export type RepoPointer = typeof RepoPointer.Type

export const DemoGroup = defineRecord("demo-group", { 0: Schema.String, 1: RepoPointer })

/** Owner-written, two subkeys. */
export const demoGroupSchema = { kind: "DFLT", subkeys: 2 } as const
