// The group's name, source policy, transport and whether it was rotated; changing them (manage).
import { Effect } from "effect"
import type { Group, GroupInfo } from "../group.ts"
import { readInfo, readRoster } from "../reads.ts"
import { checkName, LEGACY_TRANSPORT, type SourcePolicy, type Transport } from "../record.ts"
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
      transport: info.transport ?? LEGACY_TRANSPORT,
      createdAt: info.createdAt,
      rotated: roster?.rotatedTo !== undefined,
    } satisfies GroupInfo
  }).pipe(Effect.withSpan("Group.info")),

  updateInfo: Effect.fn("Group.updateInfo")(function* (changes: {
    readonly name?: string
    readonly sourcePolicy?: SourcePolicy
    readonly transport?: Transport
  }) {
    yield* requireTier(ctx, "updateInfo", "manage")
    const name = changes.name === undefined ? undefined : yield* checkName(changes.name)
    yield* modifyInfo(ctx, (info) => ({
      ...info,
      ...(name === undefined ? {} : { name }),
      ...(changes.sourcePolicy === undefined ? {} : { sourcePolicy: changes.sourcePolicy }),
      ...(changes.transport === undefined ? {} : { transport: changes.transport }),
    }))
  }),
})
