// Opening a group record with what a capability holds (checking that the record is a
// group and that the keys are its own), and creating a new one as its manager.
import { GroupSecret, SecretKey } from "@save-dweb/crypto"
import { type DhtRecordsShape, publicKeyOf, RecordNotFound } from "@save-dweb/dht-records"
import { Clock, Effect, Option } from "effect"
import { GroupCredentials, ManageCapability } from "./credentials.ts"
import { InvalidCredentials, InvalidInvite, type InvalidInviteReason } from "./errors.ts"
import { type Held, type HeldManage, isHolding, linkSecret, manageHeld, resolve } from "./held.ts"
import { keyPairFromSeed, ownerSeed, slotSeed } from "./keys.ts"
import { makeNames, NameField } from "./names.ts"
import {
  checkName,
  GroupRecord,
  INFO_SUBKEY,
  MANAGER_SLOT,
  MAX_MEMBERS,
  type OpenedGroupRecord,
  OWNER_SUBKEYS,
  ROSTER_SUBKEY,
  type SourcePolicy,
  slotSubkey,
  type Transport,
} from "./record.ts"

/** This participant's member slot and the handle that writes it. */
export interface OwnSlot {
  readonly slot: number
  readonly record: OpenedGroupRecord
}

/** The participant's handles on an open group record, and what it holds. */
export interface Opened<H extends Held = Held> {
  readonly credentials: GroupCredentials
  readonly held: H
  /** Read handle; the owner's for the manage tier, the slot writer's for write. */
  readonly record: OpenedGroupRecord
  /** Write and manage tiers. */
  readonly own: OwnSlot | undefined
}

type Problem = Exclude<InvalidInviteReason, "Malformed"> | "WrongOwner"

/** How `openGroupRecord` reports a record the credentials do not open. */
export type Invalid = (reason: Problem, message: string) => InvalidInvite | InvalidCredentials

export const inviteProblem: Invalid = (reason, message) =>
  reason === "WrongOwner"
    ? new InvalidInvite({ reason: "WrongKey", message })
    : new InvalidInvite({ reason, message })

export const credentialsProblem: Invalid = (reason, message) =>
  new InvalidCredentials({ reason, message })

export const openGroupRecord = Effect.fnUntraced(function* (
  records: DhtRecordsShape,
  credentials: GroupCredentials,
  refresh: boolean,
  invalid: Invalid,
) {
  const held = yield* resolve(credentials)
  const key = credentials.group
  const encryptionKey = held.keys.dhtValues
  const ownerPair =
    held.tier === "manage" ? keyPairFromSeed(ownerSeed(held.manageSecret)) : undefined
  const slotWriter = isHolding(held, "write")
    ? { slot: held.slot, pair: keyPairFromSeed(held.slotSeed) }
    : undefined
  const writer = ownerPair ?? slotWriter?.pair
  const record = yield* records.open(GroupRecord, key, {
    encryptionKey,
    ...(writer === undefined ? {} : { writer }),
  })
  const { layout } = record
  if (
    layout.kind !== "SMPL" ||
    layout.ownerSubkeys.end !== OWNER_SUBKEYS ||
    layout.members.length !== MAX_MEMBERS ||
    layout.subkeyCount !== OWNER_SUBKEYS + MAX_MEMBERS
  ) {
    return yield* invalid("NotAGroup", `record ${key} is not a group record`)
  }
  if (ownerPair !== undefined && record.owner !== publicKeyOf(ownerPair)) {
    return yield* invalid("WrongOwner", `the manage secret is not the one of group ${key}`)
  }
  let own: OwnSlot | undefined
  if (slotWriter !== undefined) {
    const { slot, pair } = slotWriter
    const slotRecord =
      ownerPair === undefined
        ? record
        : yield* records.open(GroupRecord, key, { encryptionKey, writer: pair })
    if (slot >= MAX_MEMBERS || !slotRecord.canWrite(slotSubkey(slot))) {
      return yield* invalid(
        "WrongWriter",
        `the write key is not the writer of slot ${slot} of group ${key}`,
      )
    }
    own = { slot, record: slotRecord }
  }
  // The keys are checked by opening the group's info.
  const info = yield* record.get(INFO_SUBKEY, { refresh }).pipe(
    Effect.catchTag("RecordDecryptFailed", () =>
      Effect.fail(invalid("WrongKey", `the keys do not open the values of group ${key}`)),
    ),
    Effect.catchTag("RecordInvalid", () =>
      Effect.fail(invalid("NotAGroup", `record ${key} holds no group info`)),
    ),
  )
  // Every group record gets its info when it is made, so none here means the value has not
  // reached the DHT nodes asked yet (a link used right after the group was made): not
  // found for now, which callers may try again, rather than "not a group".
  if (Option.isNone(info)) {
    return yield* new RecordNotFound({
      operation: "get",
      key,
      message: `group ${key}: its info is not on the network yet (made moments ago?): try again`,
    })
  }
  const opened: Opened = { credentials, held, record, own }
  return opened
})

export interface NewGroupOptions {
  /** The creator's display name in its member slot (slot 0). */
  readonly memberName?: string
  /** Default `any`. */
  readonly sourcePolicy?: SourcePolicy
  /** Default `private`. */
  readonly transport?: Transport
  /** Slots handed out from the start: 1 (the manager), or 1 + k after a rotation. */
  readonly allocated: number
}

/** Creates the record, writes info, roster and the manager's slot; opened as manager. */
export const createGroupRecord = Effect.fnUntraced(function* (
  records: DhtRecordsShape,
  name: string,
  options: NewGroupOptions,
) {
  const groupName = yield* checkName(name)
  const memberName =
    options.memberName === undefined ? undefined : yield* checkName(options.memberName)
  const held = manageHeld(yield* GroupSecret.generate, yield* SecretKey.generate)
  const encryptionKey = held.keys.dhtValues
  const members = Array.from({ length: MAX_MEMBERS }, (_, slot) => ({
    writer: publicKeyOf(keyPairFromSeed(slotSeed(held.manageSecret, slot))),
    subkeys: 1,
  }))
  const record = yield* records.create(GroupRecord, {
    schema: { kind: "SMPL", ownerSubkeys: OWNER_SUBKEYS, members },
    encryptionKey,
    owner: keyPairFromSeed(ownerSeed(held.manageSecret)),
  })
  const createdAt = yield* Clock.currentTimeMillis
  const names = makeNames(record.key, held)
  // Other nodes find the record only once it holds a value: it is shared only after these.
  yield* record.set(INFO_SUBKEY, {
    v: 1,
    name: yield* names.seal(NameField.group, groupName),
    sourcePolicy: options.sourcePolicy ?? "any",
    transport: options.transport ?? "private",
    createdAt,
  })
  yield* record.set(ROSTER_SUBKEY, { allocated: options.allocated, revoked: [] })
  const slotRecord = yield* records.open(GroupRecord, record.key, {
    encryptionKey,
    writer: keyPairFromSeed(held.slotSeed),
  })
  yield* slotRecord.set(slotSubkey(MANAGER_SLOT), {
    _tag: "Member",
    ...(memberName === undefined
      ? {}
      : { name: yield* names.seal(NameField.member(MANAGER_SLOT), memberName) }),
    joinedAt: createdAt,
  })
  const credentials = new GroupCredentials({
    group: record.key,
    capability: new ManageCapability({
      groupSecret: linkSecret(held.groupSecret),
      manageSecret: linkSecret(held.manageSecret),
    }),
    name: groupName,
  })
  const opened: Opened<HeldManage> = {
    credentials,
    held,
    record,
    own: { slot: MANAGER_SLOT, record: slotRecord },
  }
  return opened
})
