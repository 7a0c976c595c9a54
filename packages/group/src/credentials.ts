// What a participant keeps to open a group again: the record key and one capability.
// The backend persists these (`encodeCredentials`) in Veilid's table store.

import { SecretKey, toBase64Url } from "@save-dweb/crypto"
import {
  capabilityTier,
  DisplayName,
  type GroupInvite,
  makeSecretKey,
  ReadCapability,
  RecordKey,
  ReplicateCapability,
  SecretKey as SecretKeySchema,
  WriteCapability,
  WriterSlot,
} from "@save-dweb/uri-scheme"
import { Effect, Option, Redacted, Schema } from "effect"
import { InvalidCredentials } from "./errors.ts"
import { slotSeed } from "./keys.ts"
import { MANAGER_SLOT } from "./record.ts"
import type { Tier } from "./tier.ts"

/**
 * The creator's capability: the group secret and the manage secret, from which the
 * record's owner key pair and every slot's writer key pair are derived. The manager's
 * own member slot is slot 0. There is no link for it: it moves between a person's
 * devices only by device pairing.
 */
export class ManageCapability extends Schema.TaggedClass<ManageCapability>()("ManageCapability", {
  groupSecret: SecretKeySchema,
  manageSecret: SecretKeySchema,
}) {}

export const GroupCapability = Schema.Union([
  ReplicateCapability,
  ReadCapability,
  WriteCapability,
  ManageCapability,
])
export type GroupCapability =
  | ReplicateCapability
  | ReadCapability
  | WriteCapability
  | ManageCapability

/** The tier a capability grants. */
export const tierOf = (capability: GroupCapability): Tier =>
  capability._tag === "ManageCapability" ? "manage" : capabilityTier(capability)

/**
 * A group's record key and the capability held for it. Secrets are `Redacted`: printing
 * or logging credentials shows `<redacted>`; `encodeCredentials` is the way to store them.
 */
export class GroupCredentials extends Schema.Class<GroupCredentials>(
  "@save-dweb/group/GroupCredentials",
)({
  group: RecordKey,
  capability: GroupCapability,
  /** The group's name when the credentials were made (a hint; the record has the name). */
  name: Schema.optionalKey(DisplayName),
}) {
  get tier(): Tier {
    return tierOf(this.capability)
  }

  /**
   * The credentials an invite link carries. A replicate link's name hint (links made before
   * names were sealed had one) is not kept: a replicate holder keeps no name.
   */
  static fromInvite(invite: GroupInvite): GroupCredentials {
    const keepName = invite.name !== undefined && invite.capability._tag !== "ReplicateCapability"
    return new GroupCredentials({
      group: invite.group,
      capability: invite.capability,
      ...(keepName ? { name: invite.name } : {}),
    })
  }
}

// Base64url of 32 bytes (unpadded: 43 characters); canonical form is checked on decode.
const Key = Schema.String.check(
  Schema.makeFilter((text: string) =>
    /^[A-Za-z0-9_-]{43}$/.test(text) ? undefined : "expected 43 base64url characters",
  ),
)

/**
 * Stored form, version 1: UTF-8 JSON of this. JSON rather than CBOR: stored bytes may be
 * damaged, and cbor-x spends seconds on some truncated inputs (an indefinite-length
 * array header). Short field names: a rotation notice carries up to 250 of these.
 */
const CredentialsWire = Schema.Struct({
  v: Schema.Literal(1),
  group: RecordKey,
  name: Schema.optionalKey(DisplayName),
  cap: Schema.Union([
    Schema.TaggedStruct("replicate", { dht: Key, auth: Key }),
    Schema.TaggedStruct("read", { secret: Key }),
    Schema.TaggedStruct("write", { secret: Key, slot: WriterSlot, wkey: Key }),
    Schema.TaggedStruct("manage", { secret: Key, manage: Key }),
  ]),
})
type CredentialsWire = typeof CredentialsWire.Type

const reveal = (secret: Redacted.Redacted<Uint8Array>) => toBase64Url(Redacted.value(secret))

const toWire = (credentials: GroupCredentials): CredentialsWire => {
  const c = credentials.capability
  const cap: CredentialsWire["cap"] =
    c._tag === "ReplicateCapability"
      ? { _tag: "replicate", dht: reveal(c.dhtKey), auth: reveal(c.authKey) }
      : c._tag === "ReadCapability"
        ? { _tag: "read", secret: reveal(c.groupSecret) }
        : c._tag === "WriteCapability"
          ? {
              _tag: "write",
              secret: reveal(c.groupSecret),
              slot: c.slot,
              wkey: reveal(c.writerSeed),
            }
          : { _tag: "manage", secret: reveal(c.groupSecret), manage: reveal(c.manageSecret) }
  return {
    v: 1,
    group: credentials.group,
    ...(credentials.name === undefined ? {} : { name: credentials.name }),
    cap,
  }
}

const malformed = () =>
  new InvalidCredentials({ reason: "Malformed", message: "not group credentials of version 1" })

const secretOf = (text: string) =>
  SecretKey.fromBase64Url(text).pipe(
    Effect.map((key) => makeSecretKey(Redacted.value(key))),
    Effect.mapError(malformed),
  )

const fromWire = Effect.fnUntraced(function* (wire: CredentialsWire) {
  const cap = wire.cap
  const capability: GroupCapability =
    cap._tag === "replicate"
      ? new ReplicateCapability({
          dhtKey: yield* secretOf(cap.dht),
          authKey: yield* secretOf(cap.auth),
        })
      : cap._tag === "read"
        ? new ReadCapability({ groupSecret: yield* secretOf(cap.secret) })
        : cap._tag === "write"
          ? new WriteCapability({
              groupSecret: yield* secretOf(cap.secret),
              slot: cap.slot,
              writerSeed: yield* secretOf(cap.wkey),
            })
          : new ManageCapability({
              groupSecret: yield* secretOf(cap.secret),
              manageSecret: yield* secretOf(cap.manage),
            })
  return new GroupCredentials({
    group: wire.group,
    capability,
    ...(wire.name === undefined ? {} : { name: wire.name }),
  })
})

/** The bytes to store: reveals the secrets, so keep them where secrets are kept. */
export const encodeCredentials = (credentials: GroupCredentials): Uint8Array =>
  new TextEncoder().encode(JSON.stringify(toWire(credentials)))

const utf8 = new TextDecoder("utf-8", { fatal: true })
const decodeWire = Schema.decodeUnknownEffect(CredentialsWire)

/** Credentials from `encodeCredentials` bytes. */
export const decodeCredentials = (
  bytes: Uint8Array,
): Effect.Effect<GroupCredentials, InvalidCredentials> =>
  Effect.try({
    try: (): unknown => JSON.parse(utf8.decode(bytes)),
    catch: malformed,
  }).pipe(
    // The Schema's message could quote the secrets: it is left out.
    Effect.flatMap((value) => Effect.mapError(decodeWire(value), malformed)),
    Effect.flatMap(fromWire),
  )

/**
 * The member slot these credentials write, as a write capability: a write link's own, or
 * the manager's slot 0 (its writer seed derived from the manage secret). None for read
 * and replicate. Device pairing moves a member with it.
 */
export const writeCapabilityOf = (
  credentials: GroupCredentials,
): Effect.Effect<Option.Option<WriteCapability>> => {
  const c = credentials.capability
  if (c._tag === "WriteCapability") return Effect.succeedSome(c)
  if (c._tag !== "ManageCapability") return Effect.succeedNone
  return SecretKey.fromBytes(Redacted.value(c.manageSecret)).pipe(
    // A stored manage secret is 32 bytes by construction.
    Effect.orDie,
    Effect.map((manage) =>
      Option.some(
        new WriteCapability({
          groupSecret: makeSecretKey(Redacted.value(c.groupSecret)),
          slot: MANAGER_SLOT,
          writerSeed: makeSecretKey(Redacted.value(slotSeed(manage, MANAGER_SLOT))),
        }),
      ),
    ),
  )
}
