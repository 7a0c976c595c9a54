// Members by group key: who is in the group, invite links, renaming oneself, leaving it, and an
// authenticated round trip to a member over the route its repo record publishes.
import { groupProtocols } from "@save-dweb/data-repo"
import type { TunnelsShape } from "@save-dweb/tunnels"
import { type CapabilityTier, formatLink } from "@save-dweb/uri-scheme"
import type { RecordKey } from "@save-dweb/veilid"
import { Clock, Duration, Effect } from "effect"
import { MemberUnreachable, NotOwnSlot } from "./errors.ts"
import type { GroupRegistry } from "./group-registry.ts"
import type { BackendShape, MemberSummary } from "./shape.ts"

export type MemberOperations = Pick<
  BackendShape,
  "members" | "invite" | "leaveGroup" | "ping" | "renameMember"
>

export interface MemberOperationsDeps {
  readonly registry: GroupRegistry
  /** Without tunnels (memory layers in some tests) no member can be pinged. */
  readonly tunnels: TunnelsShape | undefined
}

export const makeMemberOperations = ({
  registry,
  tunnels,
}: MemberOperationsDeps): MemberOperations => {
  const { loadGroup } = registry

  const members = Effect.fn("Backend.members")(function* (groupKey: RecordKey) {
    const { group } = yield* loadGroup(groupKey)
    return (yield* group.members).map(
      (m): MemberSummary => ({
        slot: m.slot,
        name: m.name,
        repo: m.repoKey,
        joinedAt: m.joinedAt,
        mine: m.slot === group.slot,
      }),
    )
  })

  const invite = Effect.fn("Backend.invite")(function* (groupKey: RecordKey, tier: CapabilityTier) {
    const { group } = yield* loadGroup(groupKey)
    return formatLink(yield* group.invite(tier))
  })

  const leaveGroup = Effect.fn("Backend.leaveGroup")(function* (groupKey: RecordKey) {
    const { group } = yield* loadGroup(groupKey)
    yield* group.leave
    yield* registry.forgetGroup(groupKey)
  })

  const ping = Effect.fn("Backend.ping")(function* (groupKey: RecordKey, slot: number) {
    const { group, openRepo } = yield* registry.loaded(groupKey)
    const unreachable = (reason: string) => new MemberUnreachable({ key: groupKey, slot, reason })
    if (tunnels === undefined) return yield* unreachable("this backend has no tunnels")
    const pointer = (yield* group.repos).find((p) => p.slot === slot)
    if (pointer === undefined) return yield* unreachable("no repo in this slot")
    const [route] = yield* (yield* openRepo(pointer.repoKey)).routes
    if (route === undefined) return yield* unreachable("no route published (offline)")
    const peer = yield* tunnels.connect(route, group.keys.tunnelAuth)
    const started = yield* Clock.currentTimeMillis
    yield* peer.request(groupProtocols(groupKey).ping, new Uint8Array(0), {
      maxResponseBytes: 16 * 1024,
    })
    return Duration.millis((yield* Clock.currentTimeMillis) - started)
  })

  const renameMember = Effect.fn("Backend.renameMember")(function* (
    groupKey: RecordKey,
    slot: number,
    name: string,
  ) {
    const { group } = yield* loadGroup(groupKey)
    if (group.slot === undefined || group.slot !== slot) {
      return yield* new NotOwnSlot({
        key: group.key,
        slot,
        message:
          group.slot === undefined
            ? "this member holds no slot in the group (read or replicate link): it has no name to change"
            : `slot ${slot} is another member's: each member renames itself (this one is slot ${group.slot})`,
      })
    }
    yield* group.setMyName(name)
  })

  return { members, invite, leaveGroup, ping, renameMember }
}
