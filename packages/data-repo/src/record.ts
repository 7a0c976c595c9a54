// A member's repo record: a Veilid DFLT record of 4 subkeys (32 KiB each), written by
// its owner key pair only, sealed by dht-records with the group's `dhtValues` key, so
// every tier (replicate included) reads it and only the member writes it. The repo's name
// inside is sealed again under the group's names key (read tier and up).
import { BlobHash } from "@save-dweb/blob-store"
import { defineRecord } from "@save-dweb/dht-records"
import { SealedName } from "@save-dweb/group"
import { Schema } from "effect"

export const REPO_SUBKEYS = 4
export const INFO_SUBKEY = 0
export const POINTER_SUBKEY = 1
/** The member's own tunnel route; subkey 3 is kept for a second route (not written yet). */
export const ROUTE_SUBKEY = 2 as const

const Millis = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** Most backup servers one repo lists (keeps subkey 0 far below its 32 KiB). */
export const MAX_BACKUPS = 16

/**
 * A backup server the member registered the group with, as its repo record lists it:
 * the server's descriptor record (where it publishes its current route) and the key that
 * opens that record's values. Not the descriptor's access secret: whoever reads this can
 * reach the server as a blob source, not manage it.
 */
export const BackupRef = Schema.Struct({
  record: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200)),
  /** `backupRouteKey(accessSecret)`: opens the descriptor record's route value. */
  routeKey: Schema.Uint8Array.check(
    Schema.makeFilter((bytes: Uint8Array) =>
      bytes.length === 32 ? undefined : `expected 32 bytes, got ${bytes.length}`,
    ),
  ),
  name: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(512))),
  at: Millis,
})
export type BackupRef = typeof BackupRef.Type

/**
 * Subkey 0. `backups` came after the first release: records without it read as listing
 * none, and readers from before it ignore it (Schema structs drop unknown keys), so the
 * value stays version 1. `name` is sealed (`group.names`, field `NameField.repo(key)`);
 * records written before names were sealed hold it in plain text (sealed at the next write).
 */
export const RepoInfoValue = Schema.Struct({
  v: Schema.Literal(1),
  name: Schema.Union([Schema.String, SealedName]),
  backups: Schema.optionalKey(Schema.Array(BackupRef).check(Schema.isMaxLength(MAX_BACKUPS))),
})
export type RepoInfoValue = typeof RepoInfoValue.Type

/**
 * Subkey 1: the repo's current state. `root` is the Iroh collection (entries named by
 * their own hash), `manifest` the encrypted manifest blob inside it; `seq` counts
 * publications (one more per write or delete).
 */
export const ManifestPointer = Schema.Struct({
  v: Schema.Literal(1),
  root: BlobHash,
  manifest: BlobHash,
  seq: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  at: Millis,
})
export type ManifestPointer = typeof ManifestPointer.Type

/** Subkeys 2 and 3: a Veilid private route blob, or `null` once the member went offline. */
export const RouteValue = Schema.Struct({
  route: Schema.NullOr(Schema.Uint8Array),
  at: Millis,
})
export type RouteValue = typeof RouteValue.Type

export const RepoRecord = defineRecord("data-repo", {
  0: RepoInfoValue,
  1: ManifestPointer,
  "2..3": RouteValue,
})
export type RepoRecord = typeof RepoRecord
