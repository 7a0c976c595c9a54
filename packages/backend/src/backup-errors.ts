import type { RecordKey } from "@save-dweb/veilid"
import { Data } from "effect"
import type { RejectionReason } from "./backup-protocol.ts"

/** A text that is not a backup-server descriptor link (`message` never quotes its secret). */
export class InvalidBackupLink extends Data.TaggedError("InvalidBackupLink")<{
  readonly reason: string
  readonly message: string
}> {
  constructor(args: { readonly reason: string }) {
    super({ ...args, message: `invalid backup link: ${args.reason}` })
  }
}

/** No way to the backup server now: no route published (stopped), or it does not answer. */
export class BackupUnreachable extends Data.TaggedError("BackupUnreachable")<{
  /** The server's descriptor record. */
  readonly server: RecordKey
  readonly reason: string
  readonly message: string
}> {
  constructor(args: { readonly server: RecordKey; readonly reason: string }) {
    super({ ...args, message: `backup server ${args.server} is unreachable: ${args.reason}` })
  }
}

/**
 * Why a backup server refused: `Unauthorized` (its route refused our proof: the access
 * secret is wrong), `WrongAccessSecret` (the secret does not open its descriptor record),
 * `NotABackupServer` (the route serves no backup protocol), `BadResponse`, or what the
 * server answered (`NotReplicateLink`, `TooManyGroups`, `JoinFailed`, ...).
 */
export type BackupRefusal =
  | "Unauthorized"
  | "WrongAccessSecret"
  | "NotABackupServer"
  | "BadResponse"
  | Exclude<RejectionReason, "Unavailable">

/** The backup server (or its descriptor record) said no. */
export class BackupRefused extends Data.TaggedError("BackupRefused")<{
  readonly server: RecordKey
  readonly reason: BackupRefusal
  readonly message: string
}> {
  constructor(args: {
    readonly server: RecordKey
    readonly reason: BackupRefusal
    readonly detail?: string
  }) {
    super({
      server: args.server,
      reason: args.reason,
      message: `backup server ${args.server} refused (${args.reason})${args.detail === undefined ? "" : `: ${args.detail}`}`,
    })
  }
}

/**
 * No link of that backup server is kept for the group here: this device did not add it (or
 * added it before links were kept), so removing it needs its link.
 */
export class UnknownBackup extends Data.TaggedError("UnknownBackup")<{
  readonly server: string
  readonly message: string
}> {
  constructor(args: { readonly server: string }) {
    super({
      ...args,
      message: `no backup server ${args.server} was added to this group from here: remove it with its link`,
    })
  }
}

export type BackupError = InvalidBackupLink | BackupUnreachable | BackupRefused
