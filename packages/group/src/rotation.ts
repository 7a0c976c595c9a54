// The rotation notice: after a rotation, the old group's roster points at a small DFLT
// record holding, per remaining member of the old group, that member's credentials for
// the new group, sealed with a key derived from the member's old slot seed. Only that
// member (and the manager, who derives every seed) can open its entry; a revoked
// member has none and learns only that the group moved. `rotate` makes the new group
// and the notice; `followRotation` opens a member's entry.
import { openEnvelope, sealEnvelope } from "@save-dweb/crypto"
import { type DhtRecordsShape, defineRecord, type RecordKey } from "@save-dweb/dht-records"
import { GroupInvite } from "@save-dweb/uri-scheme"
import { Effect, Option, Schema, type Scope } from "effect"
import { decodeCredentials, encodeCredentials, GroupCredentials } from "./credentials.ts"
import { type GroupError, InvalidCredentials, NotAMember, SlotRevoked } from "./errors.ts"
import type { Group, Rotation } from "./group.ts"
import { type HandleContext, requireTier } from "./handle/context.ts"
import { modifyRoster } from "./handle/writes.ts"
import { type HeldManage, writeCapabilityFor } from "./held.ts"
import { rotationBoxKey, slotSeed } from "./keys.ts"
import { membersOf } from "./membership.ts"
import type { NewGroupOptions, Opened } from "./open.ts"
import { readInfo, readRoster, readState } from "./reads.ts"
import { LEGACY_TRANSPORT, MANAGER_SLOT, MAX_MEMBERS } from "./record.ts"

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

/** One old slot's credentials for the new group. */
interface NoticeEntry {
  readonly previousSlot: number
  readonly credentials: GroupCredentials
}

/** Writes the notice (sealed with the old group's keys) and answers its record key. */
const writeNotice = (
  records: DhtRecordsShape,
  manager: HeldManage,
  entries: ReadonlyArray<NoticeEntry>,
): Effect.Effect<RecordKey, GroupError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const notice = yield* records.create(RotationNotice, {
        schema: { kind: "DFLT", subkeys: NOTICE_SUBKEYS },
        encryptionKey: manager.keys.dhtValues,
      })
      const chunks = Array.from(
        { length: NOTICE_SUBKEYS },
        (): Array<{ slot: number; box: Uint8Array }> => [],
      )
      for (const { previousSlot, credentials } of entries) {
        const box = yield* sealEnvelope(
          yield* rotationBoxKey(slotSeed(manager.manageSecret, previousSlot)),
          encodeCredentials(credentials),
          { associatedData: boxAssociatedData(previousSlot) },
        )
        chunks[noticeSubkey(previousSlot)]?.push({ slot: previousSlot, box })
      }
      // Every subkey is written, so a reader never waits on an empty one.
      yield* Effect.forEach(chunks, (chunk, subkey) => notice.set(subkey, chunk), {
        discard: true,
      })
      return notice.key
    }),
  )

/** Makes the new group of a rotation: its record, opened as manager, and its handle. */
export type CreateGroup = (
  name: string,
  options: NewGroupOptions,
) => Effect.Effect<
  { readonly opened: Opened<HeldManage>; readonly group: Group },
  GroupError,
  Scope.Scope
>

export const makeRotation = (
  ctx: HandleContext,
  createGroup: CreateGroup,
): Pick<Group, "rotate" | "followRotation"> => ({
  rotate: Effect.gen(function* () {
    const manager = yield* requireTier(ctx, "rotate", "manage")
    const state = yield* readState(ctx.record)
    const info = yield* readInfo(ctx.record, true)
    const own = state.slots.get(MANAGER_SLOT)?.value
    const remaining = membersOf(state).filter((m) => m.slot !== MANAGER_SLOT)
    const created = yield* createGroup(info.name, {
      ...(own?._tag === "Member" && own.name !== undefined ? { memberName: own.name } : {}),
      sourcePolicy: info.sourcePolicy,
      transport: info.transport ?? LEGACY_TRANSPORT,
      allocated: 1 + remaining.length,
    })
    const next = created.group
    const invites = remaining.map((member, i) => {
      const slot = i + 1
      return {
        previousSlot: member.slot,
        slot,
        invite: new GroupInvite({
          group: next.key,
          capability: writeCapabilityFor(created.opened.held, slot),
        }),
      }
    })
    // One sealed entry per old slot that goes on: the members', and the manager's own
    // (for its other devices).
    const noticeKey = yield* writeNotice(ctx.records, manager, [
      { previousSlot: MANAGER_SLOT, credentials: next.credentials },
      ...invites.map(({ previousSlot, invite }) => ({
        previousSlot,
        credentials: GroupCredentials.fromInvite(invite),
      })),
    ])
    yield* modifyRoster(ctx, (roster) =>
      Effect.succeed([undefined, { ...roster, rotatedTo: noticeKey }] as const),
    )
    return { group: next, invites } satisfies Rotation
  }).pipe(Effect.withSpan("Group.rotate")),

  followRotation: Effect.gen(function* () {
    const member = yield* requireTier(ctx, "followRotation", "write")
    const { slot } = member
    const roster = yield* readRoster(ctx.record, true)
    if (roster?.rotatedTo === undefined) return Option.none<GroupCredentials>()
    const chunk = yield* Effect.scoped(
      Effect.flatMap(
        ctx.records.open(RotationNotice, roster.rotatedTo, {
          encryptionKey: member.keys.dhtValues,
        }),
        (notice) => notice.get(noticeSubkey(slot), { refresh: true }),
      ),
    )
    const entry = Option.getOrUndefined(chunk)?.value.find((e) => e.slot === slot)
    if (entry === undefined) {
      return yield* roster.revoked.includes(slot)
        ? new SlotRevoked({ group: ctx.key, slot, message: `slot ${slot} was revoked` })
        : new NotAMember({
            group: ctx.key,
            slot,
            message: `slot ${slot} was not a member when group ${ctx.key} was rotated`,
          })
    }
    const bytes = yield* openEnvelope(yield* rotationBoxKey(member.slotSeed), entry.box, {
      associatedData: boxAssociatedData(slot),
    }).pipe(
      Effect.mapError(
        () =>
          new InvalidCredentials({
            reason: "WrongKey",
            message: `the rotation entry for slot ${slot} does not open with this slot's key`,
          }),
      ),
    )
    return Option.some(yield* decodeCredentials(bytes))
  }).pipe(Effect.withSpan("Group.followRotation")),
})
