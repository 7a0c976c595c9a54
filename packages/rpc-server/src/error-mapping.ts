// Backend failures as API errors: every tag a user can cause gets a 4xx, the network's
// troubles a 5xx of their own (502/503/504/507), and only what nobody expects is Internal.
import { type ApiError, apiError } from "@save-dweb/client"

const byTag: Readonly<Record<string, ApiError["_tag"]>> = {
  UnknownGroup: "UnknownGroup",
  UnknownRepo: "UnknownRepo",
  FileNotFound: "FileNotFound",
  InvalidFileName: "InvalidFileName",
  InvalidName: "InvalidName",
  InvalidInvite: "InvalidLink",
  InvalidPairingLink: "InvalidLink",
  InvalidBackupLink: "InvalidLink",
  InvalidCredentials: "InvalidLink",
  InvalidSlot: "BadRequest",
  RecordTooLarge: "BadRequest",
  InsufficientCapability: "Forbidden",
  NotWritable: "Forbidden",
  SlotRevoked: "Forbidden",
  NotAMember: "Forbidden",
  NotOwnSlot: "Forbidden",
  RecordNotWritable: "Forbidden",
  GroupAlreadyKnown: "Conflict",
  GroupFull: "Conflict",
  RecordConflict: "Conflict",
  NotPairable: "Conflict",
  NeedsLocalCopy: "Conflict",
  InvalidRange: "RangeNotSatisfiable",
  MemberUnreachable: "PeerUnreachable",
  BackupUnreachable: "PeerUnreachable",
  BackupRefused: "Forbidden",
  UnknownBackup: "NotFound",
  NotLocal: "PeerUnreachable",
  NoSource: "PeerUnreachable",
  AllSourcesFailed: "PeerUnreachable",
  SourceUnreachable: "PeerUnreachable",
  NotFoundAtSource: "PeerUnreachable",
  RecordNotFound: "PeerUnreachable",
  PeerUnreachable: "PeerUnreachable",
  PeerBusy: "PeerUnreachable",
  RemoteError: "PeerUnreachable",
  UnverifiedPeer: "PeerUnreachable",
  Unauthorized: "PeerUnreachable",
  DecryptFailed: "BadPeerData",
  InvalidManifest: "BadPeerData",
  RecordDecryptFailed: "BadPeerData",
  RecordInvalid: "BadPeerData",
  HashMismatch: "BadPeerData",
  InvalidCollection: "BadPeerData",
  TunnelProtocolError: "BadPeerData",
  ResponseTooLarge: "BadPeerData",
  RecordTimeout: "Timeout",
  VeilidTimeout: "Timeout",
  SourceTimeout: "Timeout",
  VeilidTryAgain: "Unavailable",
  VeilidNoConnection: "Unavailable",
  VeilidNotInitialized: "Unavailable",
  VeilidShutdown: "Unavailable",
  StoreClosed: "Unavailable",
  RouteUnavailable: "Unavailable",
  DiskFull: "InsufficientStorage",
}

/** Messages for the backend's errors that carry only their fields. */
const described: Readonly<Record<string, (e: Record<string, unknown>) => string>> = {
  UnknownGroup: (e) => `no group ${String(e.key)} is known here`,
  GroupAlreadyKnown: (e) => `group ${String(e.key)} is already known here`,
  MemberUnreachable: (e) => `member in slot ${String(e.slot)} unreachable: ${String(e.reason)}`,
}

const messageOf = (error: { readonly _tag: string }): string => {
  const message = (error as { readonly message?: unknown }).message
  if (typeof message === "string" && message !== "") return message
  const describe = described[error._tag]
  if (describe !== undefined) return describe(error as unknown as Record<string, unknown>)
  // Errors without a message (e.g. `UnknownGroup { key }`): their plain fields say it.
  const fields = Object.entries(error)
    .filter(([k, v]) => k !== "_tag" && (typeof v === "string" || typeof v === "number"))
    .map(([k, v]) => `${k} ${String(v)}`)
  return fields.length === 0 ? error._tag : fields.join(", ")
}

/**
 * The API error for a backend (or lower layer) failure. The message keeps the original
 * tag when it is mapped to a broader one, so `Timeout` still says `RecordTimeout`.
 */
export const toApiError = (error: { readonly _tag: string }): ApiError => {
  const tag = byTag[error._tag] ?? "Internal"
  const message = messageOf(error)
  return apiError(tag, tag === error._tag ? message : `${error._tag}: ${message}`)
}
