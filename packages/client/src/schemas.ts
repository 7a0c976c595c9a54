// Request and response bodies of the API (JSON), and the server-sent events.
import { Schema } from "effect"

export const Tier = Schema.Literals(["replicate", "read", "write", "manage"])
export type Tier = typeof Tier.Type

/** The tiers an invite link can carry (manage moves only by device pairing). */
export const InviteTier = Schema.Literals(["replicate", "read", "write"])
export type InviteTier = typeof InviteTier.Type

export const SourcePolicy = Schema.Literals(["any", "owner-only"])

/**
 * How a group's files travel between members: `private` (only over Veilid private routes,
 * no member's IP address told to anyone) or `direct` (read-tier members and up also connect
 * to each other's Iroh nodes, so they learn each other's addresses).
 */
export const GroupTransport = Schema.Literals(["private", "direct"])
export type GroupTransport = typeof GroupTransport.Type

export const Health = Schema.Struct({
  ok: Schema.Literal(true),
  /** The API version in the paths (`/v1`). */
  api: Schema.Literal("v1"),
})
export type Health = typeof Health.Type

export const Status = Schema.Struct({
  /** This node's Veilid attachment; `null` when the backend runs without Veilid (tests). */
  veilid: Schema.NullOr(
    Schema.Struct({
      state: Schema.String,
      publicInternetReady: Schema.Boolean,
      peers: Schema.Number,
    }),
  ),
  /** This node's Iroh node; `null` without one (an in-memory store). */
  iroh: Schema.NullOr(
    Schema.Struct({ nodeId: Schema.String, addresses: Schema.Array(Schema.String) }),
  ),
  groups: Schema.Struct({ known: Schema.Number, loaded: Schema.Number }),
})
export type Status = typeof Status.Type

export const GroupSummary = Schema.Struct({
  key: Schema.String,
  name: Schema.NullOr(Schema.String),
  tier: Tier,
  loaded: Schema.Boolean,
})
export type GroupSummary = typeof GroupSummary.Type

export const GroupDetail = Schema.Struct({
  key: Schema.String,
  /** `null` for a replicate link: names are sealed under the group secret it lacks. */
  name: Schema.NullOr(Schema.String),
  tier: Tier,
  /** This member's slot (write and manage tiers). */
  slot: Schema.NullOr(Schema.Number),
  sourcePolicy: SourcePolicy,
  transport: GroupTransport,
  /** This member's own repo (write and manage tiers). */
  repo: Schema.NullOr(Schema.String),
})
export type GroupDetail = typeof GroupDetail.Type

export const CreateGroup = Schema.Struct({
  name: Schema.String,
  memberName: Schema.optionalKey(Schema.String),
  repoName: Schema.optionalKey(Schema.String),
  sourcePolicy: Schema.optionalKey(SourcePolicy),
  /** Default `private`. */
  transport: Schema.optionalKey(GroupTransport),
})
export type CreateGroup = typeof CreateGroup.Type

export const JoinGroup = Schema.Struct({
  link: Schema.String,
  memberName: Schema.optionalKey(Schema.String),
  repoName: Schema.optionalKey(Schema.String),
})
export type JoinGroup = typeof JoinGroup.Type

export const CreateInvite = Schema.Struct({ tier: InviteTier })

export const LinkBody = Schema.Struct({ link: Schema.String })
export type LinkBody = typeof LinkBody.Type

/** A one-time sign-in code for a browser (`save-dweb ui`): single use, short-lived. */
export const SignInCode = Schema.Struct({
  code: Schema.String,
  /** When it stops working (milliseconds since the epoch). */
  expiresAt: Schema.Number,
})
export type SignInCode = typeof SignInCode.Type

export const SignInRequest = Schema.Struct({ code: Schema.String })
export type SignInRequest = typeof SignInRequest.Type

/** The bearer token, answered once for a valid sign-in code. */
export const SignInToken = Schema.Struct({ token: Schema.String })
export type SignInToken = typeof SignInToken.Type

export const Member = Schema.Struct({
  slot: Schema.Number,
  name: Schema.NullOr(Schema.String),
  repo: Schema.NullOr(Schema.String),
  joinedAt: Schema.Number,
  mine: Schema.Boolean,
})
export type Member = typeof Member.Type

/**
 * Whether a member answered a round trip over its published private route just now:
 * `roundTripMs` when it did; `reason` when it did not (offline, no route, no repo yet).
 */
export const Reachability = Schema.Struct({
  slot: Schema.Number,
  reachable: Schema.Boolean,
  roundTripMs: Schema.NullOr(Schema.Number),
  reason: Schema.NullOr(Schema.String),
})
export type Reachability = typeof Reachability.Type

/** A new name for a group (manager) or for this member (its own slot only). */
export const Rename = Schema.Struct({ name: Schema.String })
export type Rename = typeof Rename.Type

export const SetTransport = Schema.Struct({ transport: GroupTransport })
export type SetTransport = typeof SetTransport.Type

/** What removing a member did: the group's old key and the key it has from now on (rotated). */
export const MemberRemoved = Schema.Struct({ previous: Schema.String, group: Schema.String })
export type MemberRemoved = typeof MemberRemoved.Type

export const RepoSummary = Schema.Struct({
  key: Schema.String,
  slot: Schema.Number,
  memberName: Schema.NullOr(Schema.String),
  name: Schema.String,
  mine: Schema.Boolean,
})
export type RepoSummary = typeof RepoSummary.Type

export const FileInfo = Schema.Struct({
  name: Schema.String,
  /** BLAKE3 of the stored (encrypted) bytes, 64 hex digits. */
  hash: Schema.String,
  /** Plaintext bytes. */
  size: Schema.Number,
  storedSize: Schema.Number,
  createdAt: Schema.Number,
  modifiedAt: Schema.Number,
  /** The repo's name. */
  owner: Schema.String,
  /** `local`: the bytes are in this node's store; `remote-only`: fetched on download or pin. */
  status: Schema.Literals(["local", "remote-only"]),
  /**
   * Another member's file kept here by this member's pin (a pin, or a download that fetched
   * it): `unpin` lets it go. Absent from daemons before it: read as not pinned.
   */
  pinned: Schema.optionalKey(Schema.Boolean),
})
export type FileInfo = typeof FileInfo.Type

/** One holder of a file off this device. */
export const FileCopy = Schema.Struct({
  kind: Schema.Literals(["member", "backup"]),
  /** `member:<slot>` or `backup:<descriptor record>`. */
  id: Schema.String,
  /** The member's name, or the backup server's as the owner's repo lists it. */
  name: Schema.String,
  /** `verified`: it proved possession now; `unknown`: it did not answer (not counted). */
  status: Schema.Literals(["verified", "unknown"]),
  /** When this daemon first saw it prove the copy (ms since the epoch; since it started). */
  since: Schema.NullOr(Schema.Number),
  verifiedAt: Schema.NullOr(Schema.Number),
  /** `proof`: a fresh challenge over a random range of the stored blob, answered right. */
  how: Schema.NullOr(Schema.Literal("proof")),
})
export type FileCopy = typeof FileCopy.Type

/** A file's copies off this device; holders that said no or failed the proof are left out. */
export const FileCopies = Schema.Struct({
  group: Schema.String,
  repo: Schema.String,
  name: Schema.String,
  hash: Schema.String,
  checkedAt: Schema.Number,
  /** Copies proven now. */
  verified: Schema.Number,
  /** The group's target ("keep at least N copies off this device"), if set. */
  target: Schema.NullOr(Schema.Number),
  reached: Schema.NullOr(Schema.Boolean),
  copies: Schema.Array(FileCopy),
})
export type FileCopies = typeof FileCopies.Type

/** How many of this member's files in a group have at least `atLeast` copies off this device. */
export const CopiesSummary = Schema.Struct({
  group: Schema.String,
  atLeast: Schema.Number,
  files: Schema.Number,
  safe: Schema.Number,
  /** Files below it that would reach it if the holders that did not answer hold a copy. */
  unknown: Schema.Number,
})
export type CopiesSummary = typeof CopiesSummary.Type

/** A group's copy target; `null`: none. */
export const CopiesTarget = Schema.Struct({
  atLeast: Schema.NullOr(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 }))),
})
export type CopiesTarget = typeof CopiesTarget.Type

export const SyncReport = Schema.Struct({
  synced: Schema.Array(Schema.Struct({ repo: Schema.String, root: Schema.String })),
  failed: Schema.Array(
    Schema.Struct({ repo: Schema.String, error: Schema.String, message: Schema.String }),
  ),
  /** Blobs freed because no repo references them any more. */
  freed: Schema.Number,
})
export type SyncReport = typeof SyncReport.Type

export const PairingRequest = Schema.Struct({
  /** Groups to move; default every group this member can move (write tier with a repo). */
  groups: Schema.optionalKey(Schema.Array(Schema.String)),
})
export type PairingRequest = typeof PairingRequest.Type

export const PairingResult = Schema.Struct({ groups: Schema.Array(GroupSummary) })
export type PairingResult = typeof PairingResult.Type

const group = Schema.String
const repo = Schema.String

export const MembershipChange = Schema.Struct({
  kind: Schema.Literals(["Joined", "Updated", "Left", "Revoked"]),
  slot: Schema.Number,
  name: Schema.NullOr(Schema.String),
})

/** What `GET /v1/events` sends: one JSON object per server-sent event, in its `data:` line (no `event:` name, so `EventSource.onmessage` gets them all; `_tag` says which). */
export const ServerEvent = Schema.Union([
  Schema.TaggedStruct("SyncStarted", { group, repo, root: Schema.String }),
  Schema.TaggedStruct("SyncProgress", {
    group,
    repo,
    bytesDone: Schema.Number,
    bytesTotal: Schema.Number,
    blobsDone: Schema.Number,
    blobsTotal: Schema.Number,
  }),
  Schema.TaggedStruct("SyncDone", { group, repo, root: Schema.String, unchanged: Schema.Boolean }),
  Schema.TaggedStruct("SyncFailed", { group, repo, error: Schema.String, message: Schema.String }),
  Schema.TaggedStruct("Purged", { group, freed: Schema.Number }),
  /** A file being fetched to be downloaded or pinned here; `bytesTotal` is 0 until known. */
  Schema.TaggedStruct("FileFetchProgress", {
    group,
    repo,
    name: Schema.String,
    bytesDone: Schema.Number,
    bytesTotal: Schema.Number,
  }),
  Schema.TaggedStruct("MembersChanged", { group, changes: Schema.Array(MembershipChange) }),
  Schema.TaggedStruct("FilesChanged", {
    group,
    repo,
    root: Schema.NullOr(Schema.String),
    mine: Schema.Boolean,
  }),
  Schema.TaggedStruct("GroupOpened", { group }),
  /** A member was removed: this member followed the group's rotation to the key `to`. */
  Schema.TaggedStruct("GroupMoved", { group, to: Schema.String }),
  /** The group was rotated without this member: it was removed. */
  Schema.TaggedStruct("RemovedFromGroup", { group }),
  Schema.TaggedStruct("GroupClosed", { group }),
  /** A file of this member's reached its group's copy target (told once per file and target). */
  Schema.TaggedStruct("CopiesReached", {
    group,
    repo,
    name: Schema.String,
    copies: Schema.Number,
    target: Schema.Number,
  }),
  /** Sent every 15 s when nothing else is, so idle connections are not timed out. */
  Schema.TaggedStruct("Heartbeat", { at: Schema.Number }),
])
export type ServerEvent = typeof ServerEvent.Type
