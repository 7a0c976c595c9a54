// Who is in the group, and this member's own name in its slot.
import { Effect } from "effect"
import type { Group } from "../group.ts"
import { membersOf } from "../membership.ts"
import { NameField } from "../names.ts"
import { readState } from "../reads.ts"
import { checkName } from "../record.ts"
import { type HandleContext, requireTier } from "./context.ts"
import { updateMember } from "./writes.ts"

export const makeMembers = (ctx: HandleContext): Pick<Group, "members" | "setMyName"> => ({
  members: Effect.gen(function* () {
    yield* requireTier(ctx, "members", "replicate")
    return membersOf(yield* readState(ctx.record, ctx.names))
  }).pipe(Effect.withSpan("Group.members")),

  setMyName: Effect.fn("Group.setMyName")(function* (name: string) {
    const valid = yield* checkName(name)
    const { slot } = yield* requireTier(ctx, "setMyName", "write")
    const sealed = yield* ctx.names.seal(NameField.member(slot), valid)
    yield* updateMember(ctx, "setMyName", (member) => ({ ...member, name: sealed }))
  }),
})
