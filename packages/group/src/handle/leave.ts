// Leaving: a tombstone in the member's slot (write tiers), then this node forgets the record.
import { Clock, Effect, Ref } from "effect"
import type { Group } from "../group.ts"
import { type HandleContext, requireTier } from "./context.ts"
import { modifySlot } from "./writes.ts"

export const makeLeave = (ctx: HandleContext): Pick<Group, "leave"> => ({
  leave: Effect.gen(function* () {
    yield* requireTier(ctx, "leave", "replicate")
    if (ctx.own !== undefined) {
      const at = yield* Clock.currentTimeMillis
      yield* modifySlot(ctx, (current) =>
        Effect.succeed(current?._tag === "Left" ? undefined : { _tag: "Left" as const, at }),
      )
    }
    // Forgets this participant's copy and closes its handles; the backend drops the credentials.
    yield* ctx.records.delete(ctx.key)
    yield* Ref.set(ctx.left, true)
  }).pipe(Effect.withSpan("Group.leave")),
})
