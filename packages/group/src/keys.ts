// Every key of a group follows from two secrets: the group secret (read tier and up)
// and the manager's manage secret. The owner key pair and all 250 slot writer key pairs
// are derived from the manage secret, so the manager stores 32 bytes instead of 251
// key pairs, and can hand out slot n's seed in a write link whenever it is asked for.
import {
  deriveKey,
  deriveSigningSeed,
  type GroupSecret,
  KeyName,
  SecretKey,
  type SigningSeed,
  signingKeyPairFromSeed,
  toBase64Url,
} from "@save-dweb/crypto"
import type { KeyPair } from "@save-dweb/dht-records"
import { Effect, Redacted } from "effect"

// Veilid 0.5.8 has one crypto kind. A VLD0 key pair is `VLD0:<public>:<secret>` in
// unpadded base64url, and its secret is the 32-byte Ed25519 seed (veilid-core-optimized
// `ed25519_generate_keypair` returns `SigningKey::to_bytes()`), so libsodium's seed key
// pair is the same key pair Veilid signs with.
const CRYPTO_KIND = "VLD0"

/** The Veilid key pair of an Ed25519 seed. */
export const keyPairFromSeed = (seed: SigningSeed): KeyPair =>
  `${CRYPTO_KIND}:${toBase64Url(signingKeyPairFromSeed(seed).publicKey)}:${toBase64Url(Redacted.value(seed))}`

/** The record's owner: writes the info and roster subkeys. */
export const ownerSeed = (manageSecret: SecretKey): SigningSeed =>
  deriveSigningSeed(manageSecret, "owner")

/** Slot `slot`'s writer: fixed in the record's schema at creation. */
export const slotSeed = (manageSecret: SecretKey, slot: number): SigningSeed =>
  deriveSigningSeed(manageSecret, `slot/${slot}`)

/**
 * Opens a member's entry in a rotation notice: only the holder of the slot's seed (the
 * member, and the manager who derived it) has it, so a revoked member learns nothing.
 */
export const rotationBoxKey = (seed: SigningSeed): Effect.Effect<SecretKey> =>
  SecretKey.fromBytes(Redacted.value(seed)).pipe(
    // A seed is 32 bytes by construction.
    Effect.orDie,
    Effect.map((key) => deriveKey(key, "group/rotation")),
  )

/** The keys a replicate holder has; every higher tier derives them from the group secret. */
export interface ReplicateKeys {
  /** Seals the group's (and its members' repos') DHT values. */
  readonly dhtValues: SecretKey
  /** Authenticates tunnel requests for encrypted blobs. */
  readonly tunnelAuth: SecretKey
}

export const replicateKeysOf = (groupSecret: GroupSecret): ReplicateKeys => ({
  dhtValues: deriveKey(groupSecret, KeyName.dhtValues),
  tunnelAuth: deriveKey(groupSecret, KeyName.tunnelAuth),
})
