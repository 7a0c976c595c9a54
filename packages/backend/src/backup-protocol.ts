// The backup server's request protocol, spoken over its private route through tunnels.
// Only callers who prove the key derived from the descriptor's access secret get in:
// tunnels refuses everyone else before any handler runs (a refusal and nothing else).
// One JSON request per call, one JSON response; both are small.
import { deriveKey, SecretKey } from "@save-dweb/crypto"
import { backupRouteKey } from "@save-dweb/data-repo"
import type { BackupDescriptor } from "@save-dweb/uri-scheme"
import { Effect, Redacted, Result, Schema } from "effect"

/** The tunnels protocol name a backup server serves its requests on. */
export const BACKUP_PROTOCOL = "save-dweb/backup/1"

/** `deriveKey(accessSecret, …)` name of the key that authenticates requests. */
export const BACKUP_REQUESTS_KEY_NAME = "save-dweb/backup/requests"

/** Largest request a server reads (an add carries one link of at most 4096 characters). */
export const MAX_BACKUP_REQUEST_BYTES = 16 * 1024
/** Largest response a client reads (a list of many groups). */
export const MAX_BACKUP_RESPONSE_BYTES = 1024 * 1024

/** The keys a descriptor's access secret gives: its route record's, and the requests'. */
export interface BackupKeys {
  /** Opens the descriptor record's route value (members get this one, not the secret). */
  readonly route: SecretKey
  /** Proves a caller may send requests. */
  readonly requests: SecretKey
}

export const backupKeysOf = (accessSecret: Uint8Array): Effect.Effect<BackupKeys> =>
  SecretKey.fromBytes(accessSecret).pipe(
    // The descriptor's Schema admits 32-byte secrets only.
    Effect.orDie,
    Effect.map((access) => ({
      route: backupRouteKey(access),
      requests: deriveKey(access, BACKUP_REQUESTS_KEY_NAME),
    })),
  )

export const descriptorKeys = (descriptor: BackupDescriptor): Effect.Effect<BackupKeys> =>
  backupKeysOf(Redacted.value(descriptor.accessSecret))

const V = Schema.Literal(1)
const Key = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200))
const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

export const BackupRequest = Schema.Union([
  /** Hold a group: `link` is its replicate invite (the server refuses higher tiers). */
  Schema.TaggedStruct("Add", { v: V, link: Schema.String.check(Schema.isMaxLength(8192)) }),
  Schema.TaggedStruct("List", { v: V }),
  /** Stop holding a group and free its blobs. */
  Schema.TaggedStruct("Remove", { v: V, group: Key }),
])
export type BackupRequest = typeof BackupRequest.Type

/** A group the server holds, as `List` reports it. */
export const HeldGroup = Schema.Struct({
  key: Key,
  name: Schema.NullOr(Schema.String.check(Schema.isMaxLength(512))),
  /** Always `replicate`: the server never holds more. */
  tier: Schema.Literal("replicate"),
  /** Repos the last pass looked at, held now, and failed (owner and sources offline). */
  repos: Count,
  synced: Count,
  failed: Count,
  /** When the last pass ended (ms since the epoch), `null` before the first. */
  lastSyncAt: Schema.NullOr(Count),
})
export type HeldGroup = typeof HeldGroup.Type

/**
 * Why a server turned a request down. `Unavailable`: it could not do it now (the group's
 * record did not answer); the client reports it as `BackupUnreachable`, worth a retry.
 */
export const RejectionReason = Schema.Literals([
  "BadRequest",
  "InvalidLink",
  "NotReplicateLink",
  "TooManyGroups",
  "JoinFailed",
  "Unavailable",
  "Failed",
])
export type RejectionReason = typeof RejectionReason.Type

export const BackupResponse = Schema.Union([
  Schema.TaggedStruct("Added", {
    v: V,
    group: Key,
    name: Schema.NullOr(Schema.String.check(Schema.isMaxLength(512))),
    /** The server held the group already. */
    already: Schema.Boolean,
  }),
  Schema.TaggedStruct("Groups", {
    v: V,
    groups: Schema.Array(HeldGroup).check(Schema.isMaxLength(10_000)),
  }),
  Schema.TaggedStruct("Removed", {
    v: V,
    group: Key,
    /** The server held the group (else nothing but leftovers was freed). */
    held: Schema.Boolean,
    /** Blobs freed from its store. */
    freed: Count,
  }),
  Schema.TaggedStruct("Rejected", {
    v: V,
    reason: RejectionReason,
    message: Schema.String.check(Schema.isMaxLength(2048)),
  }),
])
export type BackupResponse = typeof BackupResponse.Type

const RequestJson = Schema.fromJsonString(BackupRequest)
const ResponseJson = Schema.fromJsonString(BackupResponse)
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder("utf-8", { fatal: true })

const textOf = (bytes: Uint8Array): Result.Result<string, string> => {
  try {
    return Result.succeed(fromUtf8.decode(bytes))
  } catch {
    return Result.fail("not UTF-8")
  }
}

export const encodeBackupRequest = (request: BackupRequest): Uint8Array =>
  utf8.encode(Schema.encodeSync(RequestJson)(request))

export const encodeBackupResponse = (response: BackupResponse): Uint8Array =>
  utf8.encode(Schema.encodeSync(ResponseJson)(response))

/** The request in `bytes`, or why it is not one (a message safe to send back). */
export const decodeBackupRequest = (bytes: Uint8Array): Result.Result<BackupRequest, string> =>
  Result.flatMap(textOf(bytes), (text) =>
    Result.mapError(
      Schema.decodeUnknownResult(RequestJson)(text),
      () => "not a backup request of version 1",
    ),
  )

export const decodeBackupResponse = (bytes: Uint8Array): Result.Result<BackupResponse, string> =>
  Result.flatMap(textOf(bytes), (text) =>
    Result.mapError(
      Schema.decodeUnknownResult(ResponseJson)(text),
      () => "not a backup response of version 1",
    ),
  )
