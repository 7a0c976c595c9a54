// An open group's handle: the operations, each in a module of one concern under
// `handle/`, over one shared context.
import { deriveKey, KeyName } from "@save-dweb/crypto"
import type { DhtRecordsShape } from "@save-dweb/dht-records"
import { Effect } from "effect"
import type { Group } from "./group.ts"
import { makeContext } from "./handle/context.ts"
import { makeInfo } from "./handle/info.ts"
import { makeInvite } from "./handle/invite.ts"
import { makeLeave } from "./handle/leave.ts"
import { makeMembers } from "./handle/members.ts"
import { makeRepos } from "./handle/repos.ts"
import { makeRevoke } from "./handle/revoke.ts"
import { makeWatch } from "./handle/watch.ts"
import { requireHeld, slotOf } from "./held.ts"
import { createGroupRecord, type Opened } from "./open.ts"
import { type CreateGroup, makeRotation } from "./rotation.ts"

export const makeHandle = (records: DhtRecordsShape, opened: Opened): Effect.Effect<Group> =>
  Effect.gen(function* () {
    const ctx = yield* makeContext(records, opened)
    const { held } = opened
    // A rotation's new group gets a handle like this one.
    const createGroup: CreateGroup = (name, options) =>
      Effect.gen(function* () {
        const created = yield* createGroupRecord(records, name, options)
        return { opened: created, group: yield* makeHandle(records, created) }
      })
    const group: Group = {
      key: ctx.key,
      tier: held.tier,
      slot: slotOf(held),
      credentials: opened.credentials,
      keys: held.keys,
      addressKey: Effect.map(requireHeld(held, "addressKey", "read"), ({ groupSecret }) =>
        deriveKey(groupSecret, KeyName.addressAuth),
      ),
      fileKey: Effect.map(requireHeld(held, "fileKey", "read"), ({ groupSecret }) =>
        deriveKey(groupSecret, KeyName.fileContents),
      ),
      groupSecret: Effect.map(
        requireHeld(held, "groupSecret", "read"),
        ({ groupSecret }) => groupSecret,
      ),
      ...makeInfo(ctx),
      ...makeMembers(ctx),
      ...makeRepos(ctx),
      ...makeWatch(ctx),
      ...makeInvite(ctx),
      ...makeLeave(ctx),
      ...makeRevoke(ctx),
      ...makeRotation(ctx, createGroup),
    }
    return group
  })
