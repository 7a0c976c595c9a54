// Bodies of the backup-server routes (issue 9). Links travel in bodies, never in URLs:
// a descriptor link carries the server's access secret.
import { Schema } from "effect"

export const BackupLink = Schema.Struct({
  /** A `save+dweb:backup?...` descriptor link, as the backup server printed it. */
  link: Schema.String,
})

export const RemoveBackup = Schema.Struct({
  link: Schema.String,
  /** Stop listing the server even when it cannot be reached (it keeps its copy then). */
  force: Schema.optionalKey(Schema.Boolean),
})

export const BackupAdded = Schema.Struct({
  group: Schema.String,
  /** The server's descriptor record. */
  server: Schema.String,
  name: Schema.NullOr(Schema.String),
  /** The server held the group already (another member registered it, or a retry). */
  already: Schema.Boolean,
})
export type BackupAdded = typeof BackupAdded.Type

export const BackupRemoved = Schema.Struct({
  group: Schema.String,
  server: Schema.String,
  /** The server answered (false only with `force` when it could not be reached). */
  reached: Schema.Boolean,
  held: Schema.Boolean,
  /** Blobs the server freed. */
  freed: Schema.Number,
})
export type BackupRemoved = typeof BackupRemoved.Type

export const GroupBackup = Schema.Struct({
  server: Schema.String,
  name: Schema.NullOr(Schema.String),
  /** This device added it and keeps its link: it can be removed by `server` alone. */
  kept: Schema.Boolean,
  listedBy: Schema.Array(
    Schema.Struct({
      slot: Schema.Number,
      memberName: Schema.NullOr(Schema.String),
      mine: Schema.Boolean,
      at: Schema.Number,
    }),
  ),
})
export type GroupBackup = typeof GroupBackup.Type

export const HeldGroup = Schema.Struct({
  key: Schema.String,
  name: Schema.NullOr(Schema.String),
  tier: Schema.Literal("replicate"),
  repos: Schema.Number,
  synced: Schema.Number,
  failed: Schema.Number,
  lastSyncAt: Schema.NullOr(Schema.Number),
})
export type HeldGroup = typeof HeldGroup.Type
