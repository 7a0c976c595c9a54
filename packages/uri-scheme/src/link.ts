import type { BackupDescriptor } from "./backup-descriptor.ts"
import type { GroupInvite } from "./group-invite.ts"
import type { PairingLink } from "./pairing-link.ts"

/** Every value a `save+dweb:` link can carry, told apart by `_tag`. */
export type Link = GroupInvite | BackupDescriptor | PairingLink

/** The word after `save+dweb:`. */
export type LinkKind = "invite" | "backup" | "pair"

export const linkKinds: ReadonlyArray<LinkKind> = ["invite", "backup", "pair"]

export const linkKind = (link: Link): LinkKind => {
  switch (link._tag) {
    case "GroupInvite":
      return "invite"
    case "BackupDescriptor":
      return "backup"
    case "PairingLink":
      return "pair"
  }
}
