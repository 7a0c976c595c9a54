// Revoking a member (manage): its slot goes into the roster's revoked list, for good.
import { Effect } from "effect"
import { InvalidSlot } from "../errors.ts"
import type { Group } from "../group.ts"
import { MANAGER_SLOT, MAX_MEMBERS } from "../record.ts"
import { type HandleContext, requireTier } from "./context.ts"
import { modifyRoster } from "./writes.ts"

export const makeRevoke = (ctx: HandleContext): Pick<Group, "revoke"> => ({
  revoke: Effect.fn("Group.revoke")(function* (slot: number) {
    yield* requireTier(ctx, "revoke", "manage")
    if (!Number.isInteger(slot) || slot <= MANAGER_SLOT || slot >= MAX_MEMBERS) {
      return yield* new InvalidSlot({
        slot,
        message: `slot must be 1 to ${MAX_MEMBERS - 1} (slot ${MANAGER_SLOT} is the manager's: leave instead)`,
      })
    }
    yield* modifyRoster(ctx, (roster) => {
      if (slot >= roster.allocated) {
        return Effect.fail(
          new InvalidSlot({ slot, message: `slot ${slot} has not been handed out` }),
        )
      }
      if (roster.revoked.includes(slot)) return Effect.succeed([undefined, undefined] as const)
      const revoked = [...roster.revoked, slot].sort((a, b) => a - b)
      return Effect.succeed([undefined, { ...roster, revoked }] as const)
    })
  }),
})
