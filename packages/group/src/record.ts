// The group record: a Veilid SMPL record of 2 owner subkeys and 250 member slots of
// one subkey each. 252 subkeys in all, so a value may take at most
// floor(1 MiB / 252) = 4161 sealed bytes (veilid-core caps a record's data at 1 MiB).
import { defineRecord, type OpenedRecord } from "@save-dweb/dht-records"
import { DisplayName, RecordKey } from "@save-dweb/uri-scheme"
import { Effect, Schema } from "effect"
import { InvalidName } from "./errors.ts"

/** Member slots of a group: one writer each, plus the owner (Veilid allows 256 writers). */
export const MAX_MEMBERS = 250

/** Subkeys only the owner (the manage capability) writes. */
export const OWNER_SUBKEYS = 2
export const INFO_SUBKEY = 0
export const ROSTER_SUBKEY = 1

/** The manager's own member slot: the creator is the group's first member. */
export const MANAGER_SLOT = 0

/** The subkey of member slot `slot`. */
export const slotSubkey = (slot: number): number => OWNER_SUBKEYS + slot

export const slotOfSubkey = (subkey: number): number => subkey - OWNER_SUBKEYS

/** Every member slot's subkey, in slot order. */
export const slotSubkeys: ReadonlyArray<number> = Array.from({ length: MAX_MEMBERS }, (_, slot) =>
  slotSubkey(slot),
)

/** Where data-repo may fetch a member's blobs from (seed 004: "data only from the person"). */
export const SourcePolicy = Schema.Literals(["any", "owner-only"])
export type SourcePolicy = typeof SourcePolicy.Type

/**
 * How a group's blobs travel. `private`: only over Veilid private routes, no member ever
 * tells its Iroh address. `direct`: read-tier holders and up may ask a member for its Iroh
 * address and fetch over Iroh QUIC directly (faster; the member's IP address is told).
 */
export const Transport = Schema.Literals(["private", "direct"])
export type Transport = typeof Transport.Type

/** A group's transport when it names none: every group made before the setting existed. */
export const LEGACY_TRANSPORT: Transport = "direct"

const Millis = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Slot = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: MAX_MEMBERS - 1 }))

/** Subkey 0, written by the owner. */
export const GroupInfoValue = Schema.Struct({
  v: Schema.Literal(1),
  name: DisplayName,
  sourcePolicy: SourcePolicy,
  /** Absent in records made before the setting existed: read as `LEGACY_TRANSPORT`. */
  transport: Schema.optionalKey(Transport),
  createdAt: Millis,
})
export type GroupInfoValue = typeof GroupInfoValue.Type

/**
 * Subkey 1, written by the owner: the manage data members cannot write. Slots
 * `0..allocated-1` have been handed out (never twice: a slot's writer key is fixed in
 * the schema, so whoever held it keeps it). `rotatedTo` is the rotation notice record.
 */
export const RosterValue = Schema.Struct({
  allocated: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: MAX_MEMBERS })),
  revoked: Schema.Array(Slot),
  rotatedTo: Schema.optionalKey(RecordKey),
})
export type RosterValue = typeof RosterValue.Type

/** A member slot: the member's own entry, or the tombstone it leaves behind. */
export const SlotValue = Schema.Union([
  Schema.TaggedStruct("Member", {
    name: Schema.optionalKey(DisplayName),
    /** The member's data-repo DHT record key, once it has one. */
    repo: Schema.optionalKey(RecordKey),
    joinedAt: Millis,
  }),
  Schema.TaggedStruct("Left", { at: Millis }),
])
export type SlotValue = typeof SlotValue.Type

export const GroupRecord = defineRecord("group", {
  0: GroupInfoValue,
  1: RosterValue,
  "2..251": SlotValue,
})
export type GroupRecord = typeof GroupRecord

/** An open group record, through one writer key (or none). */
export type OpenedGroupRecord = OpenedRecord<GroupRecord>

/** `name` if it is a display name (a group's or a member's), else `InvalidName`. */
export const checkName = (name: string): Effect.Effect<string, InvalidName> =>
  Schema.is(DisplayName)(name)
    ? Effect.succeed(name)
    : Effect.fail(
        new InvalidName({
          name,
          message: "a name is 1 to 128 bytes of UTF-8 without control or bidi-override characters",
        }),
      )
