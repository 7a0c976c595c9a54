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
  name: Schema.String,
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

export const Member = Schema.Struct({
  slot: Schema.Number,
  name: Schema.NullOr(Schema.String),
  repo: Schema.NullOr(Schema.String),
  joinedAt: Schema.Number,
  mine: Schema.Boolean,
})
export type Member = typeof Member.Type

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
})
export type FileInfo = typeof FileInfo.Type

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
  /** Sent every 15 s when nothing else is, so idle connections are not timed out. */
  Schema.TaggedStruct("Heartbeat", { at: Schema.Number }),
])
export type ServerEvent = typeof ServerEvent.Type
