// What the operations of one open group share: its record handles and the capability
// held, the capability check, this node's own writes for its watchers, and the locks
// that order the handle's read-modify-writes.
import type { DhtRecordsShape, RecordKey, WatchEvent } from "@save-dweb/dht-records"
import { Effect, PubSub, Ref, Semaphore } from "effect"
import { type InsufficientCapability, NotAMember } from "../errors.ts"
import { type Held, type Holding, requireHeld, slotOf } from "../held.ts"
import { makeNames, type Names } from "../names.ts"
import type { Opened, OwnSlot } from "../open.ts"
import type { OpenedGroupRecord } from "../record.ts"
import type { Tier } from "../tier.ts"

export interface HandleContext {
  readonly records: DhtRecordsShape
  readonly key: RecordKey
  readonly held: Held
  /** Seals and opens the group's names (read tier and up; a replicate holder reads none). */
  readonly names: Names
  /** Read handle; the owner's for the manage tier, the slot writer's for write. */
  readonly record: OpenedGroupRecord
  /** Write and manage tiers. */
  readonly own: OwnSlot | undefined
  /** Veilid does not tell a node about its own writes; watch streams get them from here. */
  readonly ownWrites: PubSub.PubSub<WatchEvent<unknown>>
  /** Orders this handle's writes of the owner subkeys (info and roster). */
  readonly ownerLock: Semaphore.Semaphore
  /** Orders this handle's writes of its own slot. */
  readonly slotLock: Semaphore.Semaphore
  /** Set by `leave`: every operation answers `NotAMember` from then on. */
  readonly left: Ref.Ref<boolean>
}

export const makeContext = Effect.fnUntraced(function* (records: DhtRecordsShape, opened: Opened) {
  const context: HandleContext = {
    records,
    key: opened.credentials.group,
    held: opened.held,
    names: makeNames(opened.credentials.group, opened.held),
    record: opened.record,
    own: opened.own,
    ownWrites: yield* PubSub.unbounded<WatchEvent<unknown>>(),
    ownerLock: yield* Semaphore.make(1),
    slotLock: yield* Semaphore.make(1),
    left: yield* Ref.make(false),
  }
  return context
})

/**
 * The capability check of every operation: the case of `Held` that allows it, or
 * `InsufficientCapability`; after `leave`, `NotAMember`.
 */
export const requireTier = <T extends Tier>(
  ctx: HandleContext,
  operation: string,
  required: T,
): Effect.Effect<Holding<T>, InsufficientCapability | NotAMember> =>
  Effect.flatMap(
    Ref.get(ctx.left),
    (left): Effect.Effect<Holding<T>, InsufficientCapability | NotAMember> =>
      left
        ? Effect.fail(
            new NotAMember({
              group: ctx.key,
              slot: slotOf(ctx.held),
              message: `left group ${ctx.key}`,
            }),
          )
        : requireHeld(ctx.held, operation, required),
  )
