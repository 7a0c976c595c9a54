// The three capability tiers an invite can carry. Each holds only what its
// holder needs: replicate cannot decrypt, read cannot write.
import { Schema } from "effect"
import { SecretKey } from "./secret-key.ts"
import { WriterSlot } from "./writer-slot.ts"

/** Find members' repos and fetch their (encrypted) blobs: what a backup server gets. */
export class ReplicateCapability extends Schema.TaggedClass<ReplicateCapability>()(
  "ReplicateCapability",
  {
    /** Decrypts the group's DHT values (member list, repo pointers). */
    dhtKey: SecretKey,
    /** Authenticates tunnel requests for encrypted blobs. */
    authKey: SecretKey,
  },
) {}

/** Replicate, plus decrypt files: every read-tier key is derived from the group secret. */
export class ReadCapability extends Schema.TaggedClass<ReadCapability>()("ReadCapability", {
  groupSecret: SecretKey,
}) {}

/**
 * Read, plus write one member slot. The writer's Ed25519 public key is not
 * carried: it follows from the seed, and the joining side checks it against
 * the slot's writer in the group record.
 */
export class WriteCapability extends Schema.TaggedClass<WriteCapability>()("WriteCapability", {
  groupSecret: SecretKey,
  slot: WriterSlot,
  /** Ed25519 seed of the member's writer key pair for `slot`. */
  writerSeed: SecretKey,
}) {}

export const Capability = Schema.Union([ReplicateCapability, ReadCapability, WriteCapability])

export type Capability = ReplicateCapability | ReadCapability | WriteCapability

/** The `cap=` value of each tier, in increasing power. */
export const capabilityTiers = ["replicate", "read", "write"] as const

export type CapabilityTier = (typeof capabilityTiers)[number]

export const capabilityTier = (capability: Capability): CapabilityTier => {
  switch (capability._tag) {
    case "ReplicateCapability":
      return "replicate"
    case "ReadCapability":
      return "read"
    case "WriteCapability":
      return "write"
  }
}
