import {
  deriveKey,
  GroupSecret,
  KeyName,
  openEnvelope,
  SecretKey,
  type SigningSeed,
  SigningSeed as SigningSeedKind,
  sealEnvelope,
} from "@save-dweb/crypto"
import {
  type DhtRecordsError,
  type DhtRecordsShape,
  type Entry,
  type OpenedRecord,
  publicKeyOf,
  type RecordKey,
  type WatchEvent,
  type WatchOptions,
} from "@save-dweb/dht-records"
import {
  type CapabilityTier,
  DisplayName,
  GroupInvite,
  makeSecretKey,
  parseGroupInvite,
  ReadCapability,
  ReplicateCapability,
  WriteCapability,
} from "@save-dweb/uri-scheme"
import {
  Clock,
  Context,
  Effect,
  Option,
  PubSub,
  Redacted,
  Schema,
  type Scope,
  Semaphore,
  Stream,
} from "effect"
import {
  decodeCredentials,
  encodeCredentials,
  GroupCredentials,
  ManageCapability,
} from "./credentials.ts"
import {
  type GroupError,
  GroupFull,
  InsufficientCapability,
  InvalidCredentials,
  InvalidInvite,
  type InvalidInviteReason,
  InvalidName,
  InvalidSlot,
  NotAMember,
  SlotRevoked,
} from "./errors.ts"
import {
  keyPairFromSeed,
  ownerSeed,
  type ReplicateKeys,
  replicateKeysOf,
  rotationBoxKey,
  slotSeed,
} from "./keys.ts"
import {
  changesBetween,
  type GroupState,
  type Member,
  type Membership,
  type MembershipChange,
  membersOf,
  type RepoPointer,
  reposOf,
  type SlotEntry,
} from "./membership.ts"
import {
  GroupRecord,
  INFO_SUBKEY,
  MANAGER_SLOT,
  MAX_MEMBERS,
  OWNER_SUBKEYS,
  ROSTER_SUBKEY,
  type RosterValue,
  type SlotValue,
  type SourcePolicy,
  slotOfSubkey,
  slotSubkey,
  slotSubkeys,
} from "./record.ts"
import { boxAssociatedData, NOTICE_SUBKEYS, noticeSubkey, RotationNotice } from "./rotation.ts"
import { covers, type Tier } from "./tier.ts"

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

type GroupHandle = OpenedRecord<GroupRecord>

const now = Clock.currentTimeMillis

const checkName = (name: string) =>
  Schema.is(DisplayName)(name)
    ? Effect.succeed(name)
    : Effect.fail(
        new InvalidName({
          name,
          message: "a name is 1 to 128 bytes of UTF-8 without control or bidi-override characters",
        }),
      )

// A read-modify-write that lost to a concurrent writer reads again and retries.
const retryConflicts = <A, E extends { readonly _tag: string }, R>(
  self: Effect.Effect<A, E, R>,
): Effect.Effect<A, E, R> => {
  const attempt = (n: number): Effect.Effect<A, E, R> =>
    self.pipe(
      Effect.catch((error: E) =>
        error._tag === "RecordConflict" && n < 5 ? attempt(n + 1) : Effect.fail(error),
      ),
    )
  return attempt(1)
}

const fromLinkSecret = (secret: Redacted.Redacted<Uint8Array>) =>
  // uri-scheme checked the length (32 bytes), so these conversions cannot fail.
  Effect.orDie(SecretKey.fromBytes(Redacted.value(secret)))
const groupSecretOf = (secret: Redacted.Redacted<Uint8Array>) =>
  Effect.orDie(GroupSecret.fromBytes(Redacted.value(secret)))
const seedOf = (secret: Redacted.Redacted<Uint8Array>) =>
  Effect.orDie(SigningSeedKind.fromBytes(Redacted.value(secret)))
const linkSecret = (secret: Redacted.Redacted<Uint8Array>) => makeSecretKey(Redacted.value(secret))

/** What the capability gives, resolved to keys. */
interface Held {
  readonly tier: Tier
  readonly keys: ReplicateKeys
  readonly groupSecret: GroupSecret | undefined
  readonly manageSecret: SecretKey | undefined
  readonly slot: number | undefined
  readonly slotSeed: SigningSeed | undefined
}

const resolve = Effect.fnUntraced(function* (credentials: GroupCredentials) {
  const c = credentials.capability
  switch (c._tag) {
    case "ReplicateCapability":
      return {
        tier: "replicate",
        keys: {
          dhtValues: yield* fromLinkSecret(c.dhtKey),
          tunnelAuth: yield* fromLinkSecret(c.authKey),
        },
        groupSecret: undefined,
        manageSecret: undefined,
        slot: undefined,
        slotSeed: undefined,
      } satisfies Held
    case "ReadCapability": {
      const groupSecret = yield* groupSecretOf(c.groupSecret)
      return {
        tier: "read",
        keys: replicateKeysOf(groupSecret),
        groupSecret,
        manageSecret: undefined,
        slot: undefined,
        slotSeed: undefined,
      } satisfies Held
    }
    case "WriteCapability": {
      const groupSecret = yield* groupSecretOf(c.groupSecret)
      return {
        tier: "write",
        keys: replicateKeysOf(groupSecret),
        groupSecret,
        manageSecret: undefined,
        slot: c.slot,
        slotSeed: yield* seedOf(c.writerSeed),
      } satisfies Held
    }
    case "ManageCapability": {
      const groupSecret = yield* groupSecretOf(c.groupSecret)
      const manageSecret = yield* fromLinkSecret(c.manageSecret)
      return {
        tier: "manage",
        keys: replicateKeysOf(groupSecret),
        groupSecret,
        manageSecret,
        slot: MANAGER_SLOT,
        slotSeed: slotSeed(manageSecret, MANAGER_SLOT),
      } satisfies Held
    }
  }
})

/** Groups over a `DhtRecords` (the Veilid layer, or the memory one in tests). */
export const makeGroups = (records: DhtRecordsShape): GroupsShape => {
  /** The participant's handles on an open group record, and what it holds. */
  interface Opened {
    readonly credentials: GroupCredentials
    readonly held: Held
    /** Read handle; the owner's for the manage tier, the slot writer's for write. */
    readonly record: GroupHandle
    /** The handle that writes the participant's slot (write and manage tiers). */
    readonly slotRecord: GroupHandle | undefined
  }

  type Problem = Exclude<InvalidInviteReason, "Malformed"> | "WrongOwner"

  const openRecord = Effect.fnUntraced(function* (
    credentials: GroupCredentials,
    refresh: boolean,
    invalid: (reason: Problem, message: string) => InvalidInvite | InvalidCredentials,
  ) {
    const held = yield* resolve(credentials)
    const key = credentials.group
    const encryptionKey = held.keys.dhtValues
    const ownerPair =
      held.manageSecret === undefined ? undefined : keyPairFromSeed(ownerSeed(held.manageSecret))
    const slotPair = held.slotSeed === undefined ? undefined : keyPairFromSeed(held.slotSeed)
    const record = yield* records.open(GroupRecord, key, {
      encryptionKey,
      ...(ownerPair !== undefined
        ? { writer: ownerPair }
        : slotPair !== undefined
          ? { writer: slotPair }
          : {}),
    })
    const { layout } = record
    if (
      layout.kind !== "SMPL" ||
      layout.ownerSubkeys.end !== OWNER_SUBKEYS ||
      layout.members.length !== MAX_MEMBERS ||
      layout.subkeyCount !== OWNER_SUBKEYS + MAX_MEMBERS
    ) {
      return yield* invalid("NotAGroup", `record ${key} is not a group record`)
    }
    if (ownerPair !== undefined && record.owner !== publicKeyOf(ownerPair)) {
      return yield* invalid("WrongOwner", `the manage secret is not the one of group ${key}`)
    }
    let slotRecord: GroupHandle | undefined
    if (held.slot !== undefined && slotPair !== undefined) {
      slotRecord =
        ownerPair === undefined
          ? record
          : yield* records.open(GroupRecord, key, { encryptionKey, writer: slotPair })
      if (held.slot >= MAX_MEMBERS || !slotRecord.canWrite(slotSubkey(held.slot))) {
        return yield* invalid(
          "WrongWriter",
          `the write key is not the writer of slot ${held.slot} of group ${key}`,
        )
      }
    }
    // The keys are checked by opening the group's info.
    const info = yield* record.get(INFO_SUBKEY, { refresh }).pipe(
      Effect.catchTag("RecordDecryptFailed", () =>
        Effect.fail(invalid("WrongKey", `the keys do not open the values of group ${key}`)),
      ),
      Effect.catchTag("RecordInvalid", () =>
        Effect.fail(invalid("NotAGroup", `record ${key} holds no group info`)),
      ),
    )
    if (Option.isNone(info)) {
      return yield* invalid("NotAGroup", `record ${key} holds no group info`)
    }
    const opened: Opened = { credentials, held, record, slotRecord }
    return opened
  })

  const makeHandle = Effect.fnUntraced(function* (opened: Opened) {
    const { credentials, held, record, slotRecord } = opened
    const key = credentials.group
    // Veilid does not tell a node about its own writes; watch streams get them from here.
    const ownWrites = yield* PubSub.unbounded<WatchEvent<unknown>>()
    const announce = (handle: GroupHandle, subkey: number) =>
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

    const holds = (
      operation: string,
      required: Tier,
    ): Effect.Effect<void, InsufficientCapability> =>
      covers(held.tier, required)
        ? Effect.void
        : Effect.fail(
            new InsufficientCapability({
              operation,
              required,
              held: held.tier,
              message: `${operation} needs the ${required} capability; this ${held.tier} link does not have it`,
            }),
          )

    /** The capability check of every operation; after `leave`, `NotAMember`. */
    const requireTier = (
      operation: string,
      required: Tier,
    ): Effect.Effect<void, InsufficientCapability | NotAMember> =>
      Effect.suspend(
        (): Effect.Effect<void, InsufficientCapability | NotAMember> =>
          left
            ? Effect.fail(
                new NotAMember({ group: key, slot: held.slot, message: `left group ${key}` }),
              )
            : holds(operation, required),
      )

    const getInfo = (refresh: boolean) =>
      record.get(INFO_SUBKEY, { refresh }).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () =>
              Effect.fail(
                new InvalidCredentials({
                  reason: "NotAGroup",
                  message: `${key} has no group info`,
                }),
              ),
            onSome: (entry) => Effect.succeed(entry.value),
          }),
        ),
      )

    const getRoster = (refresh: boolean) =>
      record
        .get(ROSTER_SUBKEY, { refresh })
        .pipe(Effect.map((entry) => Option.getOrUndefined(Option.map(entry, (e) => e.value))))

    const getSlot = (handle: GroupHandle, subkey: number, refresh: boolean) =>
      handle.get(subkey, { refresh }) as Effect.Effect<
        Option.Option<Entry<SlotValue>>,
        DhtRecordsError
      >

    /** Roster and slots, fetching from the network only what is newer there. */
    const loadState = Effect.gen(function* () {
      const report = yield* record.inspect({
        subkeys: [ROSTER_SUBKEY, ...slotSubkeys],
        scope: "network",
      })
      const held = report.subkeys.filter((s) => s.network !== undefined || s.local !== undefined)
      const fresh = (s: (typeof held)[number]) =>
        s.network !== undefined && (s.local === undefined || s.network > s.local)
      const rosterSeqs = held.find((s) => s.subkey === ROSTER_SUBKEY)
      const rosterEntry =
        rosterSeqs === undefined
          ? Option.none()
          : yield* record.get(ROSTER_SUBKEY, { refresh: fresh(rosterSeqs) })
      // Revoked slots are not even fetched: their values are ignored anyway.
      const revoked = new Set(Option.getOrUndefined(rosterEntry)?.value.revoked ?? [])
      const entries = yield* Effect.forEach(
        held.filter((s) => s.subkey !== ROSTER_SUBKEY && !revoked.has(slotOfSubkey(s.subkey))),
        (s) =>
          getSlot(record, s.subkey, fresh(s)).pipe(
            Effect.map(
              Option.map(
                ({ value, writer, seq }) =>
                  [slotOfSubkey(s.subkey), { value, writer, seq }] as const,
              ),
            ),
            // A slot whose value does not open or decode is nobody's entry.
            Effect.catchTags({
              RecordDecryptFailed: () => Effect.succeed(Option.none()),
              RecordInvalid: () => Effect.succeed(Option.none()),
            }),
          ),
        { concurrency: 8 },
      )
      const slots = new Map<number, SlotEntry>(entries.flatMap((e) => Option.toArray(e)))
      const state: GroupState = {
        roster: Option.getOrUndefined(rosterEntry)?.value,
        rosterSeq: Option.getOrUndefined(rosterEntry)?.seq,
        slots,
      }
      return state
    })

    const snapshot = (state: GroupState, changes: ReadonlyArray<MembershipChange>): Membership => ({
      members: membersOf(state),
      revoked: [...(state.roster?.revoked ?? [])].sort((a, b) => a - b),
      changes,
    })

    const apply = (state: GroupState, event: WatchEvent<unknown>): GroupState => {
      if (event._tag !== "Changed") return state
      if (event.subkey === ROSTER_SUBKEY) {
        if (state.rosterSeq !== undefined && state.rosterSeq >= event.seq) return state
        return { ...state, roster: event.value as RosterValue, rosterSeq: event.seq }
      }
      const slot = slotOfSubkey(event.subkey)
      const held = state.slots.get(slot)
      if (slot < 0 || (held !== undefined && held.seq >= event.seq)) return state
      const slots = new Map(state.slots)
      slots.set(slot, { value: event.value as SlotValue, writer: event.writer, seq: event.seq })
      return { ...state, slots }
    }

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
        if (slotRecord === undefined || held.slot === undefined) {
          return yield* new NotAMember({ group: key, slot: undefined, message: "no slot held" })
        }
        const subkey = slotSubkey(held.slot)
        const current = yield* getSlot(slotRecord, subkey, true)
        const next = yield* f(Option.getOrUndefined(Option.map(current, (e) => e.value)))
        if (next !== undefined) {
          yield* slotRecord.set(subkey, next)
          yield* announce(slotRecord, subkey)
        }
      }).pipe(retryConflicts, slotLock.withPermits(1))

    const checkNotRevoked = Effect.gen(function* () {
      const roster = yield* getRoster(true)
      if (held.slot !== undefined && roster?.revoked.includes(held.slot)) {
        return yield* new SlotRevoked({
          group: key,
          slot: held.slot,
          message: `slot ${held.slot} of group ${key} was revoked`,
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
        yield* requireTier(operation, "write")
        yield* checkNotRevoked
        yield* modifySlot((current) =>
          current?._tag === "Member"
            ? Effect.succeed(change(current))
            : Effect.fail(
                new NotAMember({
                  group: key,
                  slot: held.slot,
                  message: `slot ${held.slot} of group ${key} holds no member entry: join first`,
                }),
              ),
        )
      })

    const groupName = Effect.map(getInfo(false), (info) => info.name)

    const writeCapability = (slot: number) => {
      const manageSecret = held.manageSecret as SecretKey
      return new WriteCapability({
        groupSecret: linkSecret(held.groupSecret as GroupSecret),
        slot,
        writerSeed: linkSecret(slotSeed(manageSecret, slot)),
      })
    }

    const handle: Group = {
      key,
      tier: held.tier,
      slot: held.slot,
      credentials,
      keys: held.keys,
      fileKey: Effect.map(holds("fileKey", "read"), () =>
        deriveKey(held.groupSecret as GroupSecret, KeyName.fileContents),
      ),
      groupSecret: Effect.map(holds("groupSecret", "read"), () => held.groupSecret as GroupSecret),

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
                    const next = apply(state, event)
                    const changes = changesBetween(state, next)
                    return [next, changes.length === 0 ? [] : [snapshot(next, changes)]] as const
                  },
                ),
              )
            return Stream.concat(Stream.make(snapshot(initial, [])), updates)
          }),
        ),

      invite: Effect.fn("Group.invite")(function* (tier: CapabilityTier) {
        const name = yield* Effect.suspend(() => {
          switch (tier) {
            case "replicate":
              return requireTier("invite(replicate)", "replicate")
            case "read":
              return requireTier("invite(read)", "read")
            case "write":
              return requireTier("invite(write)", "manage")
          }
        }).pipe(Effect.andThen(groupName))
        const invite = (capability: ReplicateCapability | ReadCapability | WriteCapability) =>
          new GroupInvite({ group: key, capability, name })
        switch (tier) {
          case "replicate":
            return invite(
              new ReplicateCapability({
                dhtKey: linkSecret(held.keys.dhtValues),
                authKey: linkSecret(held.keys.tunnelAuth),
              }),
            )
          case "read":
            return invite(
              new ReadCapability({ groupSecret: linkSecret(held.groupSecret as GroupSecret) }),
            )
          case "write": {
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
            return invite(writeCapability(slot))
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
        yield* requireTier("rotate", "manage")
        const oldManage = held.manageSecret as SecretKey
        const state = yield* loadState
        const info = yield* getInfo(true)
        const own = state.slots.get(MANAGER_SLOT)?.value
        const remaining = membersOf(state).filter((m) => m.slot !== MANAGER_SLOT)
        const created = yield* createGroup(info.name, {
          ...(own?._tag === "Member" && own.name !== undefined ? { memberName: own.name } : {}),
          sourcePolicy: info.sourcePolicy,
          allocated: 1 + remaining.length,
        })
        const next = yield* makeHandle(created)
        const invites = remaining.map((member, i) => {
          const slot = i + 1
          const manageSecret = created.held.manageSecret as SecretKey
          return {
            previousSlot: member.slot,
            slot,
            invite: new GroupInvite({
              group: next.key,
              capability: new WriteCapability({
                groupSecret: linkSecret(created.held.groupSecret as GroupSecret),
                slot,
                writerSeed: linkSecret(slotSeed(manageSecret, slot)),
              }),
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
              encryptionKey: held.keys.dhtValues,
            })
            const chunks = Array.from(
              { length: NOTICE_SUBKEYS },
              () => [] as Array<{ slot: number; box: Uint8Array }>,
            )
            for (const { previousSlot, credentials: c } of entries) {
              const box = yield* sealEnvelope(
                yield* rotationBoxKey(slotSeed(oldManage, previousSlot)),
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
        yield* requireTier("followRotation", "write")
        const slot = held.slot as number
        const roster = yield* getRoster(true)
        if (roster?.rotatedTo === undefined) return Option.none<GroupCredentials>()
        const chunk = yield* Effect.scoped(
          Effect.flatMap(
            records.open(RotationNotice, roster.rotatedTo, { encryptionKey: held.keys.dhtValues }),
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
        const bytes = yield* openEnvelope(
          yield* rotationBoxKey(held.slotSeed as SigningSeed),
          entry.box,
          { associatedData: boxAssociatedData(slot) },
        ).pipe(
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

  /** Creates the record, writes info, roster and the manager's slot; opened as manager. */
  const createGroup = Effect.fnUntraced(function* (
    name: string,
    options: CreateOptions & { readonly allocated: number },
  ) {
    const groupName = yield* checkName(name)
    const memberName =
      options.memberName === undefined ? undefined : yield* checkName(options.memberName)
    const groupSecret = yield* GroupSecret.generate
    const manageSecret = yield* SecretKey.generate
    const keys = replicateKeysOf(groupSecret)
    const ownerPair = keyPairFromSeed(ownerSeed(manageSecret))
    const members = Array.from({ length: MAX_MEMBERS }, (_, slot) => ({
      writer: publicKeyOf(keyPairFromSeed(slotSeed(manageSecret, slot))),
      subkeys: 1,
    }))
    const record = yield* records.create(GroupRecord, {
      schema: { kind: "SMPL", ownerSubkeys: OWNER_SUBKEYS, members },
      encryptionKey: keys.dhtValues,
      owner: ownerPair,
    })
    const createdAt = yield* now
    // Other nodes find the record only once it holds a value: it is shared only after these.
    yield* record.set(INFO_SUBKEY, {
      v: 1,
      name: groupName,
      sourcePolicy: options.sourcePolicy ?? "any",
      createdAt,
    })
    yield* record.set(ROSTER_SUBKEY, { allocated: options.allocated, revoked: [] })
    const slotRecord = yield* records.open(GroupRecord, record.key, {
      encryptionKey: keys.dhtValues,
      writer: keyPairFromSeed(slotSeed(manageSecret, MANAGER_SLOT)),
    })
    yield* slotRecord.set(slotSubkey(MANAGER_SLOT), {
      _tag: "Member",
      ...(memberName === undefined ? {} : { name: memberName }),
      joinedAt: createdAt,
    })
    const credentials = new GroupCredentials({
      group: record.key,
      capability: new ManageCapability({
        groupSecret: linkSecret(groupSecret),
        manageSecret: linkSecret(manageSecret),
      }),
      name: groupName,
    })
    const opened: Opened = {
      credentials,
      held: {
        tier: "manage",
        keys,
        groupSecret,
        manageSecret,
        slot: MANAGER_SLOT,
        slotSeed: slotSeed(manageSecret, MANAGER_SLOT),
      },
      record,
      slotRecord,
    }
    return opened
  })

  const inviteProblem = (reason: Problem, message: string) =>
    reason === "WrongOwner"
      ? new InvalidInvite({ reason: "WrongKey", message })
      : new InvalidInvite({ reason, message })

  const credentialsProblem = (reason: Problem, message: string) =>
    new InvalidCredentials({ reason, message })

  const toCredentials = (invite: string | GroupInvite | GroupCredentials) =>
    typeof invite === "string"
      ? parseGroupInvite(invite).pipe(
          Effect.mapError(
            (cause) =>
              new InvalidInvite({
                reason: "Malformed",
                message: `not a group invite: ${cause.message}`,
                cause,
              }),
          ),
          Effect.map(GroupCredentials.fromInvite),
        )
      : Effect.succeed(
          invite instanceof GroupCredentials ? invite : GroupCredentials.fromInvite(invite),
        )

  return {
    create: Effect.fn("Groups.create")(function* (name: string, options?: CreateOptions) {
      return yield* makeHandle(yield* createGroup(name, { ...options, allocated: 1 }))
    }),

    join: Effect.fn("Groups.join")(function* (
      invite: string | GroupInvite | GroupCredentials,
      options?: JoinOptions,
    ) {
      const credentials = yield* toCredentials(invite)
      const memberName =
        options?.memberName === undefined ? undefined : yield* checkName(options.memberName)
      const opened = yield* openRecord(credentials, true, inviteProblem)
      const group = yield* makeHandle(opened)
      const { slotRecord, held } = opened
      if (slotRecord !== undefined && held.slot !== undefined) {
        const slot = held.slot
        const roster = Option.getOrUndefined(
          yield* opened.record.get(ROSTER_SUBKEY, { refresh: true }),
        )?.value
        if (roster?.revoked.includes(slot)) {
          return yield* new SlotRevoked({
            group: credentials.group,
            slot,
            message: `slot ${slot} of group ${credentials.group} was revoked`,
          })
        }
        const subkey = slotSubkey(slot)
        const joinedAt = yield* now
        yield* Effect.gen(function* () {
          const current = Option.getOrUndefined(
            (yield* slotRecord.get(subkey, { refresh: true })) as Option.Option<Entry<SlotValue>>,
          )?.value
          if (current?._tag === "Left") {
            return yield* new InvalidInvite({
              reason: "SlotLeft",
              message: `the member of slot ${slot} left group ${credentials.group}; ask for a new invite`,
            })
          }
          // Joining again (another device, a retried join) keeps the entry's repo and time.
          if (current !== undefined && (memberName === undefined || current.name === memberName)) {
            return
          }
          yield* slotRecord.set(subkey, {
            _tag: "Member",
            ...(current?.repo === undefined ? {} : { repo: current.repo }),
            ...(memberName !== undefined
              ? { name: memberName }
              : current?.name === undefined
                ? {}
                : { name: current.name }),
            joinedAt: current?.joinedAt ?? joinedAt,
          })
        }).pipe(retryConflicts)
      }
      return group
    }),

    open: Effect.fn("Groups.open")(function* (credentials: GroupCredentials) {
      // From the local copy when there is one: a stored group opens without the network.
      return yield* makeHandle(yield* openRecord(credentials, false, credentialsProblem))
    }),
  }
}

/**
 * Groups of save-dweb: the group record, its members, invites and revocation;
 * `makeGroups` (the backend's `makeNode` wires it).
 */
export class Groups extends Context.Service<Groups, GroupsShape>()("@save-dweb/group/Groups") {}
