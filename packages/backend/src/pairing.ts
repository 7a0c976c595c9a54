// Device pairing (seed 003): a member's identity in its groups moves to another device as
// a uri-scheme pairing link. One entry per group: the group secret, the member's slot and
// writer seed, its repo's record key and the repo owner's seed. The new device stores
// them as a known group of write tier and continues the repo with `openMine`. Here: the
// entries' codec, `makePairingLink` on the old device and `pair` on the new one.
import { SigningSeed } from "@save-dweb/crypto"
import {
  decodeCredentials,
  encodeCredentials,
  GroupCredentials,
  keyPairFromSeed,
  writeCapabilityOf,
} from "@save-dweb/group"
import {
  formatLink,
  MAX_PAIRING_ENTRIES,
  makeSecretKey,
  PairingEntry,
  PairingLink,
  parsePairingLink,
  WriteCapability,
} from "@save-dweb/uri-scheme"
import type { RecordKey } from "@save-dweb/veilid"
import { Effect, Option, Redacted } from "effect"
import { InvalidKnownGroup, InvalidPairingLink, NotPairable, UnknownGroup } from "./errors.ts"
import type { GroupRegistry } from "./group-registry.ts"
import type { KnownGroup, KnownGroupsStore } from "./known-groups.ts"
import type { BackendShape } from "./shape.ts"

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

export type PairingOperations = Pick<BackendShape, "makePairingLink" | "pair">

export interface PairingDeps {
  readonly known: KnownGroupsStore
  readonly registry: GroupRegistry
}

export const makePairing = ({ known, registry }: PairingDeps): PairingOperations => {
  const makePairingLink = Effect.fn("Backend.makePairingLink")(function* (
    groupKeys?: ReadonlyArray<RecordKey>,
  ) {
    let entries: ReadonlyArray<PairingEntry>
    if (groupKeys !== undefined) {
      entries = yield* Effect.forEach(groupKeys, (key) =>
        Effect.gen(function* () {
          const stored = yield* known.get(key)
          if (Option.isNone(stored)) return yield* new UnknownGroup({ key })
          return yield* pairingEntryOf(stored.value)
        }),
      )
    } else {
      const all = yield* known.all
      const made = yield* Effect.forEach(all, (entry) => Effect.option(pairingEntryOf(entry)))
      entries = made.flatMap((o) => (Option.isSome(o) ? [o.value] : []))
    }
    if (entries.length === 0) {
      return yield* new NotPairable({
        key: undefined,
        reason: "no known group in which this member has a slot and a repo",
      })
    }
    if (entries.length > MAX_PAIRING_ENTRIES) {
      return yield* new NotPairable({
        key: undefined,
        reason: `${entries.length} groups; a link carries at most ${MAX_PAIRING_ENTRIES}: name them`,
      })
    }
    return formatLink(new PairingLink({ entries }))
  })

  const pair = Effect.fn("Backend.pair")(function* (link: string) {
    const parsed = yield* parsePairingLink(link).pipe(
      Effect.mapError((e) => new InvalidPairingLink({ reason: e.message })),
    )
    const entries = yield* Effect.forEach(parsed.entries, knownGroupOf)
    yield* registry.addKnown(entries)
    yield* Effect.forEach(entries, (entry) => registry.loadGroup(entry.key), { discard: true })
    const listed = yield* registry.listGroups
    return listed.filter((g) => entries.some((e) => e.key === g.key))
  })

  return { makePairingLink, pair }
}
