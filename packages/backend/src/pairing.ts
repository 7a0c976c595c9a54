// Device pairing (seed 003): a member's identity in its groups moves to another device as
// a uri-scheme pairing link. One entry per group: the group secret, the member's slot and
// writer seed, its repo's record key and the repo owner's seed. The new device stores
// them as a known group of write tier and continues the repo with `openMine`.
import { SigningSeed } from "@save-dweb/crypto"
import {
  decodeCredentials,
  encodeCredentials,
  GroupCredentials,
  keyPairFromSeed,
  writeCapabilityOf,
} from "@save-dweb/group"
import { makeSecretKey, PairingEntry, WriteCapability } from "@save-dweb/uri-scheme"
import type { RecordKey } from "@save-dweb/veilid"
import { Effect, Option, Redacted } from "effect"
import { InvalidKnownGroup, NotPairable } from "./errors.ts"
import type { KnownGroup } from "./known-groups.ts"

/** The 32-byte secret of a Veilid `KIND:<public>:<secret>` key pair (an Ed25519 seed). */
const seedOfKeyPair = (keyPair: string): Uint8Array | undefined => {
  const secret = keyPair.split(":")[2]
  if (secret === undefined) return undefined
  const bytes = Buffer.from(secret, "base64url")
  return bytes.length === 32 ? new Uint8Array(bytes) : undefined
}

/** The pairing entry of a stored group: write tier and up, with its own repo. */
export const pairingEntryOf = (
  entry: KnownGroup,
): Effect.Effect<PairingEntry, NotPairable | InvalidKnownGroup> =>
  Effect.gen(function* () {
    const notPairable = (reason: string) => new NotPairable({ key: entry.key, reason })
    const credentials = yield* Effect.mapError(
      decodeCredentials(entry.credentials),
      (e) => new InvalidKnownGroup({ key: entry.key, message: e.message }),
    )
    const write = yield* writeCapabilityOf(credentials)
    if (Option.isNone(write)) {
      return yield* notPairable(`a ${entry.tier} member has no slot to move`)
    }
    if (entry.repo === undefined) return yield* notPairable("this member has no repo yet")
    const ownerSeed = seedOfKeyPair(entry.repo.owner)
    if (ownerSeed === undefined) {
      return yield* new InvalidKnownGroup({ key: entry.key, message: "repo owner key pair" })
    }
    return new PairingEntry({
      group: entry.key,
      groupSecret: write.value.groupSecret,
      slot: write.value.slot,
      writerSeed: write.value.writerSeed,
      repo: entry.repo.key,
      repoOwnerSeed: makeSecretKey(ownerSeed),
    })
  })

/** What the new device stores for a pairing entry (the name is read when the group loads). */
export const knownGroupOf = (entry: PairingEntry): Effect.Effect<KnownGroup> =>
  Effect.gen(function* () {
    const credentials = new GroupCredentials({
      group: entry.group,
      capability: new WriteCapability({
        groupSecret: entry.groupSecret,
        slot: entry.slot,
        writerSeed: entry.writerSeed,
      }),
    })
    // uri-scheme checked the seed's length (32 bytes).
    const ownerSeed = yield* Effect.orDie(
      SigningSeed.fromBytes(Redacted.value(entry.repoOwnerSeed)),
    )
    const known: KnownGroup = {
      key: entry.group as RecordKey,
      credentials: encodeCredentials(credentials),
      repo: { key: entry.repo, owner: keyPairFromSeed(ownerSeed) },
      name: undefined,
      tier: "write",
    }
    return known
  })
