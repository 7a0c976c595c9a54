// How values read on the page.
import type { FileInfo, InviteTier, Tier } from "@save-dweb/client/promise"

/** The sentence an API error carries (never a stack); anything else as text. */
export const errorText = (error: unknown): string =>
  error instanceof Error ? error.message : String(error)

export const formatBytes = (n: number): string => {
  if (n < 1024) return `${n} B`
  const units = ["KiB", "MiB", "GiB", "TiB"]
  let value = n / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}

/** Where a file is: here (kept by this member's pin, or by the group's sync) or remote only. */
export const place = (file: Pick<FileInfo, "status" | "pinned">): string =>
  file.status === "remote-only" ? "remote only" : file.pinned === true ? "here, pinned" : "here"

export const tierWords: Record<Tier, string> = {
  manage: "Manager: can read and add files, invite and remove members, rename the group.",
  write: "Member: can read every member's files and add, change and delete their own.",
  read: "Reader: can see and download every member's files; cannot add any.",
  replicate:
    "Replica: keeps an encrypted copy of every file to keep them available, and cannot read them (for a backup box).",
}

export const inviteTiers: ReadonlyArray<InviteTier> = ["read", "write", "replicate"]
