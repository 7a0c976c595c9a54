// The members' pointers to their data-repo records: listing them, and setting this
// member's own.
import type { RecordKey } from "@save-dweb/dht-records"
import { Effect } from "effect"
import type { Group } from "../group.ts"
import { membersOf, reposOf } from "../membership.ts"
import { readState } from "../reads.ts"
import { type HandleContext, requireTier } from "./context.ts"
import { updateMember } from "./writes.ts"

export const makeRepos = (ctx: HandleContext): Pick<Group, "repos" | "setMyRepo"> => ({
  repos: Effect.gen(function* () {
    yield* requireTier(ctx, "repos", "replicate")
    return reposOf(membersOf(yield* readState(ctx.record, ctx.names)))
  }).pipe(Effect.withSpan("Group.repos")),

  setMyRepo: Effect.fn("Group.setMyRepo")(function* (repoKey: RecordKey | undefined) {
    yield* updateMember(ctx, "setMyRepo", ({ repo: _, ...member }) =>
      repoKey === undefined ? member : { ...member, repo: repoKey },
    )
  }),
})
