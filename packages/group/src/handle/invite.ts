// Invites per tier: a replicate or read link as held, or a write link that takes the
// next free slot of the roster (manage). Read and write links carry the group's name as a
// hint; a replicate link carries none (its holder is not to learn it).
import {
  type CapabilityTier,
  GroupInvite,
  ReadCapability,
  ReplicateCapability,
  type WriteCapability,
} from "@save-dweb/uri-scheme"
import { Effect } from "effect"
import { GroupFull } from "../errors.ts"
import type { Group } from "../group.ts"
import { linkSecret, writeCapabilityFor } from "../held.ts"
import { NameField, openDisplayName } from "../names.ts"
import { readInfo } from "../reads.ts"
import { MAX_MEMBERS } from "../record.ts"
import { type HandleContext, requireTier } from "./context.ts"
import { modifyRoster } from "./writes.ts"

export const makeInvite = (ctx: HandleContext): Pick<Group, "invite"> => {
  const groupName = Effect.flatMap(readInfo(ctx.record, false), (info) =>
    openDisplayName(ctx.names, NameField.group, info.name),
  )
  const inviteFor = (
    capability: ReplicateCapability | ReadCapability | WriteCapability,
    name: string | undefined,
  ) => new GroupInvite({ group: ctx.key, capability, ...(name === undefined ? {} : { name }) })

  /** Hands out slot `allocated`; a slot is never handed out twice (README: slot allocation). */
  const allocateSlot = modifyRoster(ctx, (roster) =>
    roster.allocated >= MAX_MEMBERS
      ? Effect.fail(
          new GroupFull({
            group: ctx.key,
            capacity: MAX_MEMBERS,
            message: `all ${MAX_MEMBERS} slots of group ${ctx.key} have been handed out`,
          }),
        )
      : Effect.succeed([roster.allocated, { ...roster, allocated: roster.allocated + 1 }] as const),
  )

  return {
    invite: Effect.fn("Group.invite")(function* (tier: CapabilityTier) {
      switch (tier) {
        case "replicate": {
          const { keys } = yield* requireTier(ctx, "invite(replicate)", "replicate")
          return inviteFor(
            new ReplicateCapability({
              dhtKey: linkSecret(keys.dhtValues),
              authKey: linkSecret(keys.tunnelAuth),
            }),
            undefined,
          )
        }
        case "read": {
          const { groupSecret } = yield* requireTier(ctx, "invite(read)", "read")
          const name = yield* groupName
          return inviteFor(new ReadCapability({ groupSecret: linkSecret(groupSecret) }), name)
        }
        case "write": {
          const manager = yield* requireTier(ctx, "invite(write)", "manage")
          const name = yield* groupName
          const slot = yield* allocateSlot
          return inviteFor(writeCapabilityFor(manager, slot), name)
        }
      }
    }),
  }
}
