// The group's name, source policy and whether it was rotated; renaming (manage).
import { Effect } from "effect"
import type { Group, GroupInfo } from "../group.ts"
import { readInfo, readRoster } from "../reads.ts"
import { checkName, type SourcePolicy } from "../record.ts"
import { type HandleContext, requireTier } from "./context.ts"
import { modifyInfo } from "./writes.ts"

export const makeInfo = (ctx: HandleContext): Pick<Group, "info" | "updateInfo"> => ({
  info: Effect.gen(function* () {
    yield* requireTier(ctx, "info", "replicate")
    const info = yield* readInfo(ctx.record, true)
    const roster = yield* readRoster(ctx.record, true)
    return {
      name: info.name,
      sourcePolicy: info.sourcePolicy,
      createdAt: info.createdAt,
      rotated: roster?.rotatedTo !== undefined,
    } satisfies GroupInfo
  }).pipe(Effect.withSpan("Group.info")),

  updateInfo: Effect.fn("Group.updateInfo")(function* (changes: {
    readonly name?: string
    readonly sourcePolicy?: SourcePolicy
  }) {
    yield* requireTier(ctx, "updateInfo", "manage")
    const name = changes.name === undefined ? undefined : yield* checkName(changes.name)
    yield* modifyInfo(ctx, (info) => ({
      ...info,
      ...(name === undefined ? {} : { name }),
      ...(changes.sourcePolicy === undefined ? {} : { sourcePolicy: changes.sourcePolicy }),
    }))
  }),
})
