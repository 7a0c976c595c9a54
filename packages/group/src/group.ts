// An open group as its holder sees it: what the capability held allows, each operation
// checking the tier it needs before anything is sent.
import type { GroupSecret, SecretKey } from "@save-dweb/crypto"
import type { RecordKey, WatchOptions } from "@save-dweb/dht-records"
import type { CapabilityTier, GroupInvite } from "@save-dweb/uri-scheme"
import type { Effect, Option, Scope, Stream } from "effect"
import type { GroupCredentials } from "./credentials.ts"
import type { GroupError, InsufficientCapability } from "./errors.ts"
import type { ReplicateKeys } from "./keys.ts"
import type { Member, Membership, RepoPointer } from "./membership.ts"
import type { SourcePolicy, Transport } from "./record.ts"
import type { Tier } from "./tier.ts"

/** The group as its info subkey and roster say. */
export interface GroupInfo {
  readonly name: string
  /** Where data-repo may fetch blobs from: any member or backup server, or only the repo's owner. */
  readonly sourcePolicy: SourcePolicy
  /** How blobs travel: only over private routes, or also over Iroh directly. */
  readonly transport: Transport
  readonly createdAt: number
  /** The manager rotated the group: this record is frozen; write members `followRotation`. */
  readonly rotated: boolean
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
  /**
   * The key that authenticates asking a member for its Iroh address (direct groups): read
   * tier and up, derived from the current group secret (a rotation changes it).
   */
  readonly addressKey: Effect.Effect<SecretKey, InsufficientCapability>
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
  /** Manage: rename the group or change its source policy or transport. */
  readonly updateInfo: (changes: {
    readonly name?: string
    readonly sourcePolicy?: SourcePolicy
    readonly transport?: Transport
  }) => Effect.Effect<void, GroupError>
  /**
   * Manage: a new group record with a new group secret; the remaining (not revoked)
   * members can `followRotation` to get their credentials for it. See README.
   */
  readonly rotate: Effect.Effect<Rotation, GroupError, Scope.Scope>
  /** Write and manage: this member's credentials for the group this one was rotated to, if it was. */
  readonly followRotation: Effect.Effect<Option.Option<GroupCredentials>, GroupError>
}
