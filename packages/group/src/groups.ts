// The Groups service: create a group, join one from an invite, open one from stored
// credentials. Wiring only: opening records is `open.ts`, the handle is `handle.ts`.
import type { DhtRecordsShape } from "@save-dweb/dht-records"
import type { GroupInvite } from "@save-dweb/uri-scheme"
import { Context, Effect, type Scope } from "effect"
import type { GroupCredentials } from "./credentials.ts"
import type { GroupError } from "./errors.ts"
import type { Group } from "./group.ts"
import { makeHandle } from "./handle.ts"
import { enterSlot, toCredentials } from "./join.ts"
import { createGroupRecord, credentialsProblem, inviteProblem, openGroupRecord } from "./open.ts"
import { checkName, type SourcePolicy, type Transport } from "./record.ts"

export interface CreateOptions {
  /** The creator's display name in its member slot (slot 0). */
  readonly memberName?: string
  /** Default `any`. */
  readonly sourcePolicy?: SourcePolicy
  /** Default `private`: blobs travel only over Veilid private routes. */
  readonly transport?: Transport
}

export interface JoinOptions {
  /** Display name to put in the member slot (write links; kept when re-joining if absent). */
  readonly memberName?: string
}

export interface GroupsShape {
  /** A new group: this participant is its manager and first member (slot 0). */
  readonly create: (
    name: string,
    options?: CreateOptions,
  ) => Effect.Effect<Group, GroupError, Scope.Scope>
  /**
   * Joins with an invite (link text or parsed) or credentials. A write invite puts a
   * member entry in its slot; lower tiers write nothing.
   */
  readonly join: (
    invite: string | GroupInvite | GroupCredentials,
    options?: JoinOptions,
  ) => Effect.Effect<Group, GroupError, Scope.Scope>
  /** Opens a group from stored credentials, writing nothing. */
  readonly open: (credentials: GroupCredentials) => Effect.Effect<Group, GroupError, Scope.Scope>
}

/** Groups over a `DhtRecords` (the Veilid layer, or the memory one in tests). */
export const makeGroups = (records: DhtRecordsShape): GroupsShape => ({
  create: Effect.fn("Groups.create")(function* (name: string, options?: CreateOptions) {
    return yield* makeHandle(
      records,
      yield* createGroupRecord(records, name, { ...options, allocated: 1 }),
    )
  }),

  join: Effect.fn("Groups.join")(function* (
    invite: string | GroupInvite | GroupCredentials,
    options?: JoinOptions,
  ) {
    const credentials = yield* toCredentials(invite)
    const memberName =
      options?.memberName === undefined ? undefined : yield* checkName(options.memberName)
    const opened = yield* openGroupRecord(records, credentials, true, inviteProblem)
    const group = yield* makeHandle(records, opened)
    if (opened.own !== undefined) yield* enterSlot(opened, opened.own, memberName)
    return group
  }),

  open: Effect.fn("Groups.open")(function* (credentials: GroupCredentials) {
    // From the local copy when there is one: a stored group opens without the network.
    return yield* makeHandle(
      records,
      yield* openGroupRecord(records, credentials, false, credentialsProblem),
    )
  }),
})

/** Groups of save-dweb: the group record, its members, invites and revocation. */
/**
 * Groups of save-dweb: the group record, its members, invites and revocation;
 * `makeGroups` (the backend's `makeNode` wires it).
 */
export class Groups extends Context.Service<Groups, GroupsShape>()("@save-dweb/group/Groups") {}
