import { Schema } from "effect"
import { RecordKey } from "./record-key.ts"
import { SecretKey } from "./secret-key.ts"
import { WriterSlot } from "./writer-slot.ts"

// One entry per group; 64 entries keep a pairing link under 20,500
// characters (MAX_PAIRING_LINK_LENGTH allows 24,576).
export const MAX_PAIRING_ENTRIES = 64

/** A member's full identity in one group, as moved to a new device. */
export class PairingEntry extends Schema.Class<PairingEntry>("PairingEntry")({
  group: RecordKey,
  groupSecret: SecretKey,
  slot: WriterSlot,
  writerSeed: SecretKey,
  /** The member's own repo record in this group. */
  repo: RecordKey,
  /** Ed25519 seed of the key pair that owns `repo`. */
  repoOwnerSeed: SecretKey,
}) {}

/** Why `entries` cannot form a pairing link, or `undefined` when they can. */
export const checkPairingEntries = (entries: ReadonlyArray<PairingEntry>): string | undefined => {
  if (entries.length === 0) return "no entries"
  if (entries.length > MAX_PAIRING_ENTRIES) {
    return `${entries.length} entries, at most ${MAX_PAIRING_ENTRIES} allowed`
  }
  const seen = new Map<string, number>()
  for (const [index, entry] of entries.entries()) {
    const first = seen.get(entry.group)
    if (first !== undefined) {
      return `entry ${index + 1} is for the same group as entry ${first + 1}`
    }
    seen.set(entry.group, index)
  }
  return undefined
}

/** `save+dweb:pair?...`: moves a member's identity for one or more groups to a new device. */
export class PairingLink extends Schema.TaggedClass<PairingLink>()("PairingLink", {
  /** One entry per group. */
  entries: Schema.Array(PairingEntry).check(
    Schema.makeFilter(checkPairingEntries, {
      expected: `1 to ${MAX_PAIRING_ENTRIES} entries, one per group`,
    }),
  ),
}) {}
