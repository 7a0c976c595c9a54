import {
  deriveKey,
  type GroupSecret,
  KeyName,
  openEnvelope,
  type SecretKey,
  sealEnvelope,
} from "@save-dweb/crypto"
import {
  DhtRecords,
  type DhtRecordsShape,
  type RecordKey,
  type WatchEvent,
  type WatchOptions,
} from "@save-dweb/dht-records"
import {
  type CapabilityTier,
  GroupInvite,
  ReadCapability,
  ReplicateCapability,
  type WriteCapability,
} from "@save-dweb/uri-scheme"
import {
  Clock,
  Context,
  Effect,
  Layer,
  Option,
  PubSub,
  type Scope,
  Semaphore,
  Stream,
} from "effect"
import { decodeCredentials, encodeCredentials, GroupCredentials } from "./credentials.ts"
import {
  type GroupError,
  GroupFull,
  type InsufficientCapability,
  InvalidCredentials,
  InvalidSlot,
  NotAMember,
  SlotRevoked,
} from "./errors.ts"
import { type Holding, linkSecret, requireHeld, slotOf, writeCapabilityFor } from "./held.ts"
import { enterSlot, toCredentials } from "./join.ts"
import { type ReplicateKeys, rotationBoxKey, slotSeed } from "./keys.ts"
import {
  applyEvent,
  changesBetween,
  type Member,
  type Membership,
  membershipOf,
  membersOf,
  type RepoPointer,
  reposOf,
} from "./membership.ts"
import {
  createGroupRecord,
  credentialsProblem,
  inviteProblem,
  type Opened,
  openGroupRecord,
} from "./open.ts"
import { readInfo, readRoster, readSlot, readState } from "./reads.ts"
import {
  checkName,
  INFO_SUBKEY,
  MANAGER_SLOT,
  MAX_MEMBERS,
  type OpenedGroupRecord,
  ROSTER_SUBKEY,
  type RosterValue,
  type SlotValue,
  type SourcePolicy,
  slotSubkey,
  slotSubkeys,
} from "./record.ts"
import { retryConflicts } from "./retry.ts"
import { boxAssociatedData, NOTICE_SUBKEYS, noticeSubkey, RotationNotice } from "./rotation.ts"
import type { Tier } from "./tier.ts"

/** The group as its info subkey and roster say. */
export interface GroupInfo {
  readonly name: string
  /** Where data-repo may fetch blobs from: any member or backup server, or only the repo's owner. */
  readonly sourcePolicy: SourcePolicy
  readonly createdAt: number
  /** The manager rotated the group: this record is frozen; write members `followRotation`. */
  readonly rotated: boolean
}

export interface CreateOptions {
  /** The creator's display name in its member slot (slot 0). */
  readonly memberName?: string
  /** Default `any`. */
  readonly sourcePolicy?: SourcePolicy
}

export interface JoinOptions {
  /** Display name to put in the member slot (write links; kept when re-joining if absent). */
  readonly memberName?: string
}

/** What `rotate` made: the new group (manage tier) and a write invite per remaining member. */
export interface Rotation {
  readonly group: Group
  readonly invites: ReadonlyArray<{
    readonly previousSlot: number
    readonly slot: number
    readonly invite: GroupInvite
  }>
}

/** An open group, with what the capability held allows. Closed with its scope. */
export interface Group {
  readonly key: RecordKey
  readonly tier: Tier
  /** This participant's member slot (write and manage tiers). */
  readonly slot: number | undefined
  /** What to store to `open` the group again (`encodeCredentials`). */
  readonly credentials: GroupCredentials
  /** DHT-value and tunnel-auth keys: every tier has them (data-repo seals repo records with `dhtValues`). */
  readonly keys: ReplicateKeys
  /** The key files are encrypted with: read tier and up. */
  readonly fileKey: Effect.Effect<SecretKey, InsufficientCapability>
  /** The group's root secret, for keys derived under other names: read tier and up. */
  readonly groupSecret: Effect.Effect<GroupSecret, InsufficientCapability>
  readonly info: Effect.Effect<GroupInfo, GroupError>
  /** Current members (revoked slots and tombstones left out), read from the network. */
  readonly members: Effect.Effect<ReadonlyArray<Member>, GroupError>
  /** Members' repo records: enough for a replicate holder to find and fetch everything. */
  readonly repos: Effect.Effect<ReadonlyArray<RepoPointer>, GroupError>
  /**
   * The membership now, then again each time it changes (with the changes). Built on
   * a DHT watch: a join shows up a second or two after it is written.
   */
  readonly watchMembers: (
    options?: Omit<WatchOptions, "subkeys">,
  ) => Stream.Stream<Membership, GroupError>
  /**
   * An invite for `tier`: replicate (any tier may share), read (read tier and up), write
   * (manage: takes the next free slot, `GroupFull` after 250). `formatLink` makes it text.
   */
  readonly invite: (tier: CapabilityTier) => Effect.Effect<GroupInvite, GroupError>
  readonly setMyName: (name: string) => Effect.Effect<void, GroupError>
  /** Points the member's slot at its data-repo record (or at none). */
  readonly setMyRepo: (repoKey: RecordKey | undefined) => Effect.Effect<void, GroupError>
  /** Writes a tombstone in the member's slot (write tiers) and forgets the record here. */
  readonly leave: Effect.Effect<void, GroupError>
  /** Manage: every reader ignores the slot from now on; its holder can no longer write. */
  readonly revoke: (slot: number) => Effect.Effect<void, GroupError>
  /** Manage: rename the group or change its source policy. */
  readonly updateInfo: (changes: {
    readonly name?: string
    readonly sourcePolicy?: SourcePolicy
  }) => Effect.Effect<void, GroupError>
  /**
   * Manage: a new group record with a new group secret; the remaining (not revoked)
   * members can `followRotation` to get their credentials for it. See README.
   */
  readonly rotate: Effect.Effect<Rotation, GroupError, Scope.Scope>
  /** Write and manage: this member's credentials for the group this one was rotated to, if it was. */
  readonly followRotation: Effect.Effect<Option.Option<GroupCredentials>, GroupError>
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

const now = Clock.currentTimeMillis

/** Groups over a `DhtRecords` (the Veilid layer, or the memory one in tests). */
export const makeGroups = (records: DhtRecordsShape): GroupsShape => {
  const makeHandle = Effect.fnUntraced(function* (opened: Opened) {
    const { credentials, held, record, own } = opened
    const slotRecord = own?.record
    const key = credentials.group
    // Veilid does not tell a node about its own writes; watch streams get them from here.
    const ownWrites = yield* PubSub.unbounded<WatchEvent<unknown>>()
    const announce = (handle: OpenedGroupRecord, subkey: number) =>
      handle.get(subkey).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.void,
            onSome: (entry) => PubSub.publish(ownWrites, { _tag: "Changed", ...entry }),
          }),
        ),
        Effect.ignore,
      )
    const rosterLock = yield* Semaphore.make(1)
    const slotLock = yield* Semaphore.make(1)
    let left = false

    /**
     * The capability check of every operation: the case of `Held` that allows it; after
     * `leave`, `NotAMember`.
     */
    const requireTier = <T extends Tier>(
      operation: string,
      required: T,
    ): Effect.Effect<Holding<T>, InsufficientCapability | NotAMember> =>
      Effect.suspend(
        (): Effect.Effect<Holding<T>, InsufficientCapability | NotAMember> =>
          left
            ? Effect.fail(
                new NotAMember({ group: key, slot: slotOf(held), message: `left group ${key}` }),
              )
            : requireHeld(held, operation, required),
      )

    const getInfo = (refresh: boolean) => readInfo(record, refresh)
    const getRoster = (refresh: boolean) => readRoster(record, refresh)
    const loadState = readState(record)

    /**
     * Read-modify-write of the roster (manage only): `f` answers with a result and the
     * new roster (or `undefined` to leave it). Lost races are read again and retried.
     */
    const modifyRoster = <A, E extends { readonly _tag: string }>(
      f: (roster: RosterValue) => Effect.Effect<readonly [A, RosterValue | undefined], E>,
    ) =>
      Effect.gen(function* () {
        const roster = (yield* getRoster(true)) ?? { allocated: 1, revoked: [] }
        const [result, next] = yield* f(roster)
        if (next !== undefined) {
          yield* record.set(ROSTER_SUBKEY, next)
          yield* announce(record, ROSTER_SUBKEY)
        }
        return result
      }).pipe(retryConflicts, rosterLock.withPermits(1))

    /** Read-modify-write of this participant's own slot. */
    const modifySlot = <E extends { readonly _tag: string }>(
      f: (current: SlotValue | undefined) => Effect.Effect<SlotValue | undefined, E>,
    ) =>
      Effect.gen(function* () {
        const slot = slotOf(held)
        if (slotRecord === undefined || slot === undefined) {
          return yield* new NotAMember({ group: key, slot: undefined, message: "no slot held" })
        }
        const subkey = slotSubkey(slot)
        const current = yield* readSlot(slotRecord, subkey, true)
        const next = yield* f(Option.getOrUndefined(Option.map(current, (e) => e.value)))
        if (next !== undefined) {
          yield* slotRecord.set(subkey, next)
          yield* announce(slotRecord, subkey)
        }
      }).pipe(retryConflicts, slotLock.withPermits(1))

    const checkNotRevoked = (slot: number) =>
      Effect.gen(function* () {
        const roster = yield* getRoster(true)
        if (roster?.revoked.includes(slot)) {
          return yield* new SlotRevoked({
            group: key,
            slot,
            message: `slot ${slot} of group ${key} was revoked`,
          })
        }
      })

    /** Changes this member's own entry; fails unless it is a current member. */
    const updateMember = (
      operation: string,
      change: (
        member: Extract<SlotValue, { _tag: "Member" }>,
      ) => Extract<SlotValue, { _tag: "Member" }>,
    ) =>
      Effect.gen(function* () {
        const { slot } = yield* requireTier(operation, "write")
        yield* checkNotRevoked(slot)
        yield* modifySlot((current) =>
          current?._tag === "Member"
            ? Effect.succeed(change(current))
            : Effect.fail(
                new NotAMember({
                  group: key,
                  slot,
                  message: `slot ${slot} of group ${key} holds no member entry: join first`,
                }),
              ),
        )
      })

    const groupName = Effect.map(getInfo(false), (info) => info.name)

    const handle: Group = {
      key,
      tier: held.tier,
      slot: slotOf(held),
      credentials,
      keys: held.keys,
      fileKey: Effect.map(requireHeld(held, "fileKey", "read"), ({ groupSecret }) =>
        deriveKey(groupSecret, KeyName.fileContents),
      ),
      groupSecret: Effect.map(
        requireHeld(held, "groupSecret", "read"),
        ({ groupSecret }) => groupSecret,
      ),

      info: Effect.gen(function* () {
        yield* requireTier("info", "replicate")
        const info = yield* getInfo(true)
        const roster = yield* getRoster(true)
        return {
          name: info.name,
          sourcePolicy: info.sourcePolicy,
          createdAt: info.createdAt,
          rotated: roster?.rotatedTo !== undefined,
        } satisfies GroupInfo
      }).pipe(Effect.withSpan("Group.info")),

      members: Effect.gen(function* () {
        yield* requireTier("members", "replicate")
        return membersOf(yield* loadState)
      }).pipe(Effect.withSpan("Group.members")),

      repos: Effect.gen(function* () {
        yield* requireTier("repos", "replicate")
        return reposOf(membersOf(yield* loadState))
      }).pipe(Effect.withSpan("Group.repos")),

      watchMembers: (options) =>
        Stream.unwrap(
          Effect.gen(function* () {
            yield* requireTier("watchMembers", "replicate")
            const own = yield* PubSub.subscribe(ownWrites)
            // The watch reports what is newer than the local copies `loadState` leaves.
            const initial = yield* loadState
            const updates = record
              .watch({ ...options, subkeys: [ROSTER_SUBKEY, ...slotSubkeys] })
              .pipe(
                Stream.merge(Stream.fromSubscription(own)),
                Stream.mapAccum(
                  () => initial,
                  (state, event) => {
                    const next = applyEvent(state, event)
                    const changes = changesBetween(state, next)
                    return [
                      next,
                      changes.length === 0 ? [] : [membershipOf(next, changes)],
                    ] as const
                  },
                ),
              )
            return Stream.concat(Stream.make(membershipOf(initial, [])), updates)
          }),
        ),

      invite: Effect.fn("Group.invite")(function* (tier: CapabilityTier) {
        const invite = (
          capability: ReplicateCapability | ReadCapability | WriteCapability,
          name: string,
        ) => new GroupInvite({ group: key, capability, name })
        switch (tier) {
          case "replicate": {
            const { keys } = yield* requireTier("invite(replicate)", "replicate")
            const name = yield* groupName
            return invite(
              new ReplicateCapability({
                dhtKey: linkSecret(keys.dhtValues),
                authKey: linkSecret(keys.tunnelAuth),
              }),
              name,
            )
          }
          case "read": {
            const { groupSecret } = yield* requireTier("invite(read)", "read")
            const name = yield* groupName
            return invite(new ReadCapability({ groupSecret: linkSecret(groupSecret) }), name)
          }
          case "write": {
            const manager = yield* requireTier("invite(write)", "manage")
            const name = yield* groupName
            const slot = yield* modifyRoster((roster) =>
              roster.allocated >= MAX_MEMBERS
                ? Effect.fail(
                    new GroupFull({
                      group: key,
                      capacity: MAX_MEMBERS,
                      message: `all ${MAX_MEMBERS} slots of group ${key} have been handed out`,
                    }),
                  )
                : Effect.succeed([
                    roster.allocated,
                    { ...roster, allocated: roster.allocated + 1 },
                  ] as const),
            )
            return invite(writeCapabilityFor(manager, slot), name)
          }
        }
      }),

      setMyName: Effect.fn("Group.setMyName")(function* (name: string) {
        const valid = yield* checkName(name)
        yield* updateMember("setMyName", (member) => ({ ...member, name: valid }))
      }),

      setMyRepo: Effect.fn("Group.setMyRepo")(function* (repoKey: RecordKey | undefined) {
        yield* updateMember("setMyRepo", ({ repo: _, ...member }) =>
          repoKey === undefined ? member : { ...member, repo: repoKey },
        )
      }),

      leave: Effect.gen(function* () {
        yield* requireTier("leave", "replicate")
        if (slotRecord !== undefined) {
          const at = yield* now
          yield* modifySlot((current) =>
            Effect.succeed(current?._tag === "Left" ? undefined : { _tag: "Left" as const, at }),
          )
        }
        // Forgets this participant's copy and closes its handles; the backend drops the credentials.
        yield* records.delete(key)
        left = true
      }).pipe(Effect.withSpan("Group.leave")),

      revoke: Effect.fn("Group.revoke")(function* (slot: number) {
        yield* requireTier("revoke", "manage")
        if (!Number.isInteger(slot) || slot <= MANAGER_SLOT || slot >= MAX_MEMBERS) {
          return yield* new InvalidSlot({
            slot,
            message: `slot must be 1 to ${MAX_MEMBERS - 1} (slot ${MANAGER_SLOT} is the manager's: leave instead)`,
          })
        }
        yield* modifyRoster((roster) => {
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

      updateInfo: Effect.fn("Group.updateInfo")(function* (changes: {
        readonly name?: string
        readonly sourcePolicy?: SourcePolicy
      }) {
        yield* requireTier("updateInfo", "manage")
        const name = changes.name === undefined ? undefined : yield* checkName(changes.name)
        yield* Effect.gen(function* () {
          const info = yield* getInfo(true)
          yield* record.set(INFO_SUBKEY, {
            ...info,
            ...(name === undefined ? {} : { name }),
            ...(changes.sourcePolicy === undefined ? {} : { sourcePolicy: changes.sourcePolicy }),
          })
        }).pipe(retryConflicts, rosterLock.withPermits(1))
      }),

      rotate: Effect.gen(function* () {
        const manager = yield* requireTier("rotate", "manage")
        const state = yield* loadState
        const info = yield* getInfo(true)
        const own = state.slots.get(MANAGER_SLOT)?.value
        const remaining = membersOf(state).filter((m) => m.slot !== MANAGER_SLOT)
        const created = yield* createGroupRecord(records, info.name, {
          ...(own?._tag === "Member" && own.name !== undefined ? { memberName: own.name } : {}),
          sourcePolicy: info.sourcePolicy,
          allocated: 1 + remaining.length,
        })
        const next = yield* makeHandle(created)
        const invites = remaining.map((member, i) => {
          const slot = i + 1
          return {
            previousSlot: member.slot,
            slot,
            invite: new GroupInvite({
              group: next.key,
              capability: writeCapabilityFor(created.held, slot),
            }),
          }
        })
        // One sealed entry per old slot that goes on: the members', and the manager's own
        // (for its other devices).
        const entries = [
          { previousSlot: MANAGER_SLOT, credentials: next.credentials },
          ...invites.map(({ previousSlot, invite }) => ({
            previousSlot,
            credentials: GroupCredentials.fromInvite(invite),
          })),
        ]
        const noticeKey = yield* Effect.scoped(
          Effect.gen(function* () {
            const notice = yield* records.create(RotationNotice, {
              schema: { kind: "DFLT", subkeys: NOTICE_SUBKEYS },
              encryptionKey: manager.keys.dhtValues,
            })
            const chunks = Array.from(
              { length: NOTICE_SUBKEYS },
              () => [] as Array<{ slot: number; box: Uint8Array }>,
            )
            for (const { previousSlot, credentials: c } of entries) {
              const box = yield* sealEnvelope(
                yield* rotationBoxKey(slotSeed(manager.manageSecret, previousSlot)),
                encodeCredentials(c),
                { associatedData: boxAssociatedData(previousSlot) },
              )
              chunks[noticeSubkey(previousSlot)]?.push({ slot: previousSlot, box })
            }
            // Every subkey is written, so a reader never waits on an empty one.
            yield* Effect.forEach(chunks, (chunk, subkey) => notice.set(subkey, chunk), {
              discard: true,
            })
            return notice.key
          }),
        )
        yield* modifyRoster((roster) =>
          Effect.succeed([undefined, { ...roster, rotatedTo: noticeKey }] as const),
        )
        return { group: next, invites } satisfies Rotation
      }).pipe(Effect.withSpan("Group.rotate")),

      followRotation: Effect.gen(function* () {
        const member = yield* requireTier("followRotation", "write")
        const { slot } = member
        const roster = yield* getRoster(true)
        if (roster?.rotatedTo === undefined) return Option.none<GroupCredentials>()
        const chunk = yield* Effect.scoped(
          Effect.flatMap(
            records.open(RotationNotice, roster.rotatedTo, {
              encryptionKey: member.keys.dhtValues,
            }),
            (notice) => notice.get(noticeSubkey(slot), { refresh: true }),
          ),
        )
        const entry = Option.getOrUndefined(chunk)?.value.find((e) => e.slot === slot)
        if (entry === undefined) {
          return yield* roster.revoked.includes(slot)
            ? new SlotRevoked({ group: key, slot, message: `slot ${slot} was revoked` })
            : new NotAMember({
                group: key,
                slot,
                message: `slot ${slot} was not a member when group ${key} was rotated`,
              })
        }
        const bytes = yield* openEnvelope(yield* rotationBoxKey(member.slotSeed), entry.box, {
          associatedData: boxAssociatedData(slot),
        }).pipe(
          Effect.mapError(
            () =>
              new InvalidCredentials({
                reason: "WrongKey",
                message: `the rotation entry for slot ${slot} does not open with this slot's key`,
              }),
          ),
        )
        return Option.some(yield* decodeCredentials(bytes))
      }).pipe(Effect.withSpan("Group.followRotation")),
    }
    return handle
  })

  return {
    create: Effect.fn("Groups.create")(function* (name: string, options?: CreateOptions) {
      return yield* makeHandle(
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
      const group = yield* makeHandle(opened)
      if (opened.own !== undefined) yield* enterSlot(opened, opened.own, memberName)
      return group
    }),

    open: Effect.fn("Groups.open")(function* (credentials: GroupCredentials) {
      // From the local copy when there is one: a stored group opens without the network.
      return yield* makeHandle(
        yield* openGroupRecord(records, credentials, false, credentialsProblem),
      )
    }),
  }
}

/** Groups of save-dweb: the group record, its members, invites and revocation. */
export class Groups extends Context.Service<Groups, GroupsShape>()("@save-dweb/group/Groups") {
  /** Over the `DhtRecords` in context: `DhtRecords.layer` (Veilid), or `layerMemory` in tests. */
  static readonly layer: Layer.Layer<Groups, never, DhtRecords> = Layer.effect(
    Groups,
    Effect.gen(function* () {
      return makeGroups(yield* DhtRecords)
    }),
  )
}
