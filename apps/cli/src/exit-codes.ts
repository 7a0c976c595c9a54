/**
 * The CLI's exit codes, so scripts can tell failures apart:
 * 0 ok · 1 unexpected failure · 2 usage (bad flags or arguments) · 3 daemon not running
 * or unreachable · 4 not found (group, repo, file) · 5 refused input (bad link, bad name,
 * not allowed, too large) · 6 network (peers unreachable, timeouts, not ready) · 7 conflict
 * (already known, group full) · 8 authentication (token missing or wrong).
 */
export const ExitCode = {
  Ok: 0,
  Failure: 1,
  Usage: 2,
  DaemonUnavailable: 3,
  NotFound: 4,
  Refused: 5,
  Network: 6,
  Conflict: 7,
  Auth: 8,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** The exit code for an API error tag (see @save-dweb/client's errors). */
export const exitCodeOfApiError = (tag: string): ExitCode => {
  switch (tag) {
    case "UnknownGroup":
    case "UnknownRepo":
    case "FileNotFound":
    case "NotFound":
      return ExitCode.NotFound
    case "BadRequest":
    case "InvalidLink":
    case "InvalidFileName":
    case "InvalidName":
    case "Forbidden":
    case "PayloadTooLarge":
    case "RangeNotSatisfiable":
    case "BadPeerData":
    case "InsufficientStorage":
      return ExitCode.Refused
    case "PeerUnreachable":
    case "Unavailable":
    case "Timeout":
      return ExitCode.Network
    case "Conflict":
      return ExitCode.Conflict
    case "Unauthorized":
      return ExitCode.Auth
    default:
      return ExitCode.Failure
  }
}

/** What to tell the person, beyond the server's message, for an API error tag. */
export const hintOfApiError = (tag: string): string | undefined => {
  switch (tag) {
    case "UnknownGroup":
      return "`save-dweb group list` shows the groups this daemon knows."
    case "FileNotFound":
      return "`save-dweb file ls GROUP` lists the files."
    case "InvalidLink":
      return "Copy the whole save+dweb: link, as the inviter's `save-dweb group invite` printed it."
    case "Forbidden":
      return "Your link's tier does not allow this; ask the group's creator for a write link."
    case "PeerUnreachable":
      return "No member holding the data is online; try again later or `save-dweb sync GROUP`."
    case "Unauthorized":
      return "The token does not match the daemon's: use --data-dir of that daemon or --token."
    case "Unavailable":
      return "The daemon is still attaching to the network; try again in a few seconds."
    default:
      return undefined
  }
}
