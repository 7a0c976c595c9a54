import { capabilityTier } from "./capability.ts"
import type { Link } from "./link.ts"

const quoted = (name: string | undefined): string =>
  name === undefined ? "" : ` ${JSON.stringify(name)}`

/** A one-line summary without secrets, for logs and confirmation prompts. */
export const describeLink = (link: Link): string => {
  switch (link._tag) {
    case "GroupInvite": {
      const tier = capabilityTier(link.capability)
      const slot =
        link.capability._tag === "WriteCapability" ? ` (slot ${link.capability.slot})` : ""
      return `invite to group${quoted(link.name)} ${link.group} with ${tier} access${slot}`
    }
    case "BackupDescriptor":
      return `backup server${quoted(link.name)} at ${link.record}`
    case "PairingLink": {
      const count = link.entries.length
      const groups = link.entries.map((entry) => `${entry.group} (slot ${entry.slot})`)
      return `device pairing for ${count} group${count === 1 ? "" : "s"}: ${groups.join(", ")}`
    }
  }
}
