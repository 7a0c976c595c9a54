// The handle's read-modify-writes: the owner subkeys (manage tier) and the member's own
// slot. Each reads the newest value, is ordered by a lock per handle, is retried when a
// concurrent writer wins, and tells this handle's watchers what it wrote.
import { Effect, Option, PubSub } from "effect"
import {
  type InsufficientCapability,
  type InvalidName,
  NotAMember,
  SlotRevoked,
} from "../errors.ts"
import { NameField } from "../names.ts"
import { readInfo, readRoster, readSlot } from "../reads.ts"
import {
  type GroupInfoValue,
  INFO_SUBKEY,
  type OpenedGroupRecord,
  ROSTER_SUBKEY,
  type RosterValue,
  type SlotValue,
  slotSubkey,
} from "../record.ts"
import { retryConflicts } from "../retry.ts"
import { type HandleContext, requireTier } from "./context.ts"

type MemberValue = Extract<SlotValue, { _tag: "Member" }>

const announce = (ctx: HandleContext, record: OpenedGroupRecord, subkey: number) =>
  record.get(subkey).pipe(
    Effect.flatMap(
      Option.match({
        onNone: () => Effect.void,
        onSome: (entry) => PubSub.publish(ctx.ownWrites, { _tag: "Changed", ...entry }),
      }),
    ),
    Effect.ignore,
  )

/** Read-modify-write of the group info (manage only); a plain name left by an older version is sealed. */
export const modifyInfo = (ctx: HandleContext, f: (info: GroupInfoValue) => GroupInfoValue) =>
  Effect.gen(function* () {
    const next = f(yield* readInfo(ctx.record, true))
    const name = yield* ctx.names.reseal(NameField.group, next.name)
    yield* ctx.record.set(INFO_SUBKEY, { ...next, name })
  }).pipe(retryConflicts, ctx.ownerLock.withPermits(1))

/**
 * Read-modify-write of the roster (manage only): `f` answers with a result and the new
 * roster (or `undefined` to leave it).
 */
export const modifyRoster = <A, E extends { readonly _tag: string }>(
  ctx: HandleContext,
  f: (roster: RosterValue) => Effect.Effect<readonly [A, RosterValue | undefined], E>,
) =>
  Effect.gen(function* () {
    const roster = (yield* readRoster(ctx.record, true)) ?? { allocated: 1, revoked: [] }
    const [result, next] = yield* f(roster)
    if (next !== undefined) {
      yield* ctx.record.set(ROSTER_SUBKEY, next)
      yield* announce(ctx, ctx.record, ROSTER_SUBKEY)
    }
    return result
  }).pipe(retryConflicts, ctx.ownerLock.withPermits(1))

/** Read-modify-write of this participant's own slot (`undefined` leaves it). */
export const modifySlot = <E extends { readonly _tag: string }>(
  ctx: HandleContext,
  f: (current: SlotValue | undefined) => Effect.Effect<SlotValue | undefined, E>,
) =>
  Effect.gen(function* () {
    const own = ctx.own
    if (own === undefined) {
      return yield* new NotAMember({ group: ctx.key, slot: undefined, message: "no slot held" })
    }
    const subkey = slotSubkey(own.slot)
    const current = yield* readSlot(own.record, subkey, true)
    const next = yield* f(Option.getOrUndefined(Option.map(current, (e) => e.value)))
    if (next !== undefined) {
      yield* own.record.set(subkey, next)
      yield* announce(ctx, own.record, subkey)
    }
  }).pipe(retryConflicts, ctx.slotLock.withPermits(1))

/**
 * Changes this member's own entry (a plain name left by an older version is sealed); fails
 * unless it is a current member.
 */
export const updateMember = (
  ctx: HandleContext,
  operation: string,
  change: (member: MemberValue) => MemberValue,
) =>
  Effect.gen(function* () {
    const { slot } = yield* requireTier(ctx, operation, "write")
    const roster = yield* readRoster(ctx.record, true)
    if (roster?.revoked.includes(slot)) {
      return yield* new SlotRevoked({
        group: ctx.key,
        slot,
        message: `slot ${slot} of group ${ctx.key} was revoked`,
      })
    }
    yield* modifySlot(
      ctx,
      (current): Effect.Effect<SlotValue, NotAMember | InsufficientCapability | InvalidName> =>
        current?._tag === "Member"
          ? Effect.gen(function* () {
              const { name, ...next } = change(current)
              const sealed = yield* ctx.names.reseal(NameField.member(slot), name)
              const member: MemberValue = sealed === undefined ? next : { ...next, name: sealed }
              return member
            })
          : Effect.fail(
              new NotAMember({
                group: ctx.key,
                slot,
                message: `slot ${slot} of group ${ctx.key} holds no member entry: join first`,
              }),
            ),
    )
  })
