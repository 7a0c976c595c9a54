// What a capability gives once its secrets are keys: one case per tier, each with exactly
// the keys of that tier. The capability check of an operation answers with the case it
// allows, so the operation uses the keys it needs without asking again whether they exist.
import { GroupSecret, SecretKey, SigningSeed } from "@save-dweb/crypto"
import { makeSecretKey, WriteCapability } from "@save-dweb/uri-scheme"
import { Effect, Redacted } from "effect"
import type { GroupCredentials } from "./credentials.ts"
import { InsufficientCapability } from "./errors.ts"
import { type ReplicateKeys, replicateKeysOf, slotSeed } from "./keys.ts"
import { MANAGER_SLOT } from "./record.ts"
import { covers, type Tier } from "./tier.ts"

/** A replicate link: the DHT-value and tunnel-auth keys, no group secret. */
export interface HeldReplicate {
  readonly tier: "replicate"
  readonly keys: ReplicateKeys
}

/** A read link: the group secret, from which every key of the group's values follows. */
export interface HeldRead {
  readonly tier: "read"
  readonly keys: ReplicateKeys
  readonly groupSecret: GroupSecret
}

/** A write link: read, plus one member slot and its writer seed. */
export interface HeldWrite {
  readonly tier: "write"
  readonly keys: ReplicateKeys
  readonly groupSecret: GroupSecret
  readonly slot: number
  readonly slotSeed: SigningSeed
}

/** The manager: the manage secret derives the owner key and every slot's seed; its slot is 0. */
export interface HeldManage {
  readonly tier: "manage"
  readonly keys: ReplicateKeys
  readonly groupSecret: GroupSecret
  readonly manageSecret: SecretKey
  readonly slot: number
  readonly slotSeed: SigningSeed
}

/** What the capability held gives, resolved to keys. */
export type Held = HeldReplicate | HeldRead | HeldWrite | HeldManage

/** The tiers that allow what each tier does (the order of `tiers`). */
interface Covering {
  readonly replicate: Tier
  readonly read: "read" | "write" | "manage"
  readonly write: "write" | "manage"
  readonly manage: "manage"
}

/** The cases of `Held` that may do what `T` may. */
export type Holding<T extends Tier> = Extract<Held, { readonly tier: Covering[T] }>

export const isHolding = <T extends Tier>(held: Held, required: T): held is Holding<T> =>
  covers(held.tier, required)

/** `held` as the case that allows `operation`, or `InsufficientCapability` (nothing is sent). */
export const requireHeld = <T extends Tier>(
  held: Held,
  operation: string,
  required: T,
): Effect.Effect<Holding<T>, InsufficientCapability> =>
  isHolding(held, required)
    ? Effect.succeed(held)
    : Effect.fail(
        new InsufficientCapability({
          operation,
          required,
          held: held.tier,
          message: `${operation} needs the ${required} capability; this ${held.tier} link does not have it`,
        }),
      )

// uri-scheme checked the lengths of a link's secrets (32 bytes), so these cannot fail.
const secretKeyOf = (secret: Redacted.Redacted<Uint8Array>) =>
  Effect.orDie(SecretKey.fromBytes(Redacted.value(secret)))
const groupSecretOf = (secret: Redacted.Redacted<Uint8Array>) =>
  Effect.orDie(GroupSecret.fromBytes(Redacted.value(secret)))
const seedOf = (secret: Redacted.Redacted<Uint8Array>) =>
  Effect.orDie(SigningSeed.fromBytes(Redacted.value(secret)))

/** A key as a link carries it. */
export const linkSecret = (secret: Redacted.Redacted<Uint8Array>) =>
  makeSecretKey(Redacted.value(secret))

export const manageHeld = (groupSecret: GroupSecret, manageSecret: SecretKey): HeldManage => ({
  tier: "manage",
  keys: replicateKeysOf(groupSecret),
  groupSecret,
  manageSecret,
  slot: MANAGER_SLOT,
  slotSeed: slotSeed(manageSecret, MANAGER_SLOT),
})

/** The keys of `credentials`' capability. */
export const resolve = Effect.fnUntraced(function* (credentials: GroupCredentials) {
  const c = credentials.capability
  switch (c._tag) {
    case "ReplicateCapability": {
      const held: HeldReplicate = {
        tier: "replicate",
        keys: {
          dhtValues: yield* secretKeyOf(c.dhtKey),
          tunnelAuth: yield* secretKeyOf(c.authKey),
        },
      }
      return held
    }
    case "ReadCapability": {
      const groupSecret = yield* groupSecretOf(c.groupSecret)
      const held: HeldRead = { tier: "read", keys: replicateKeysOf(groupSecret), groupSecret }
      return held
    }
    case "WriteCapability": {
      const groupSecret = yield* groupSecretOf(c.groupSecret)
      const held: HeldWrite = {
        tier: "write",
        keys: replicateKeysOf(groupSecret),
        groupSecret,
        slot: c.slot,
        slotSeed: yield* seedOf(c.writerSeed),
      }
      return held
    }
    case "ManageCapability":
      return manageHeld(yield* groupSecretOf(c.groupSecret), yield* secretKeyOf(c.manageSecret))
  }
})

/** The write capability of `slot`, as the manager hands it out (its seed derived, not stored). */
export const writeCapabilityFor = (manager: HeldManage, slot: number): WriteCapability =>
  new WriteCapability({
    groupSecret: linkSecret(manager.groupSecret),
    slot,
    writerSeed: linkSecret(slotSeed(manager.manageSecret, slot)),
  })

/** The member slot held: write and manage tiers. */
export const slotOf = (held: Held): number | undefined =>
  isHolding(held, "write") ? held.slot : undefined
