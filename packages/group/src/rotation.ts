// The rotation notice: after a rotation, the old group's roster points at a small DFLT
// record holding, per remaining member of the old group, that member's credentials for
// the new group, sealed with a key derived from the member's old slot seed. Only that
// member (and the manager, who derives every seed) can open its entry; a revoked
// member has none and learns only that the group moved.
import { defineRecord } from "@save-dweb/dht-records"
import { Schema } from "effect"
import { MAX_MEMBERS } from "./record.ts"

/** Entries per notice subkey: 64 write credentials (~260 bytes each) fit in 32 KiB. */
export const NOTICE_SLOTS_PER_SUBKEY = 64
export const NOTICE_SUBKEYS = Math.ceil(MAX_MEMBERS / NOTICE_SLOTS_PER_SUBKEY)

export const NoticeChunk = Schema.Array(
  Schema.Struct({
    slot: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: MAX_MEMBERS - 1 })),
    /** Envelope of the member's encoded credentials for the new group. */
    box: Schema.Uint8Array,
  }),
)

export const RotationNotice = defineRecord("group-rotation", { "0..3": NoticeChunk })

export const noticeSubkey = (slot: number): number => Math.floor(slot / NOTICE_SLOTS_PER_SUBKEY)

const AD_PREFIX = new TextEncoder().encode("save-dweb/group/rotation/v1\0")

/** Binds a box to its old slot (boxes are per-slot keys anyway; this makes moves fail loudly). */
export const boxAssociatedData = (slot: number): Uint8Array => {
  const out = new Uint8Array(AD_PREFIX.length + 1)
  out.set(AD_PREFIX, 0)
  out[AD_PREFIX.length] = slot
  return out
}
