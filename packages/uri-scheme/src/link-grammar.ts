// save+dweb:<kind>?v=1&<param>=<value>&... with the parameters of each kind
// in one fixed order, so every value has exactly one link text.
import type { CapabilityTier } from "./capability.ts"

export const SCHEME = "save+dweb:"

export const LINK_VERSION = 1

export const SUPPORTED_VERSIONS: ReadonlyArray<number> = [LINK_VERSION]

/** Invites and backup descriptors are a few hundred characters; this is ample. */
export const MAX_LINK_LENGTH = 4096

/** 64 pairing entries of at most 239 bytes each fit in 20,422 characters. */
export const MAX_PAIRING_LINK_LENGTH = 24_576

/** Longest input looked at, surrounding whitespace included. */
export const MAX_INPUT_LENGTH = 32_768

export interface ParamSpec {
  readonly name: string
  readonly optional?: true
}

const v: ParamSpec = { name: "v" }
const name: ParamSpec = { name: "name", optional: true }

export const inviteLayouts: Record<CapabilityTier, ReadonlyArray<ParamSpec>> = {
  replicate: [v, { name: "cap" }, { name: "group" }, { name: "dht" }, { name: "auth" }, name],
  read: [v, { name: "cap" }, { name: "group" }, { name: "secret" }, name],
  write: [
    v,
    { name: "cap" },
    { name: "group" },
    { name: "secret" },
    { name: "slot" },
    { name: "wkey" },
    name,
  ],
}

export const backupLayout: ReadonlyArray<ParamSpec> = [
  v,
  { name: "record" },
  { name: "access" },
  name,
]

export const pairingLayout: ReadonlyArray<ParamSpec> = [v, { name: "data" }]
