/**
 * What a participant holds, in increasing power: `replicate` (find repos, fetch
 * encrypted blobs), `read` (+ decrypt files), `write` (+ one member slot), `manage`
 * (+ the owner subkeys: hand out write links, revoke, rotate).
 */
export type Tier = "replicate" | "read" | "write" | "manage"

export const tiers: ReadonlyArray<Tier> = ["replicate", "read", "write", "manage"]

/** Whether `held` allows what `required` does. */
export const covers = (held: Tier, required: Tier): boolean =>
  tiers.indexOf(held) >= tiers.indexOf(required)
