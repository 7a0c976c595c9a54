// The DNS zone of one testnet.
//
// Bootstrap, in veilid's v0 format (veilid-core 0.5.8
// network_manager/bootstrap): the root name's TXT is a comma list of names
// relative to the root, and each of those names' TXT is
// `0|<envelope versions>|<public keys>|<host>|<short dial infos>`. v0 carries
// no signature: nodes accept it only with `bootstrap_keys: []`.
//
// Hosts: every node's name also has an A and an AAAA record. A node listens on
// its name (`listen_address: "<name>:5150"`): veilid resolves a listen
// address and binds every address it gets, the one way to bind exactly one
// IPv4 and one IPv6 address.
import type { NodeAddress } from "./addresses.ts"
import { canonicalName } from "./dns-message.ts"
import type { ProcessIdentity } from "./process-info.ts"

export interface ZoneEntry {
  readonly txt?: ReadonlyArray<string>
  readonly a?: ReadonlyArray<string>
  readonly aaaa?: ReadonlyArray<string>
}

/** Canonical name → records. */
export type Zone = ReadonlyMap<string, ZoneEntry>

export interface BootstrapNode {
  /** Label under the root name, e.g. "n0". */
  readonly name: string
  /** Typed public key, "VLD0:<base64url>". */
  readonly publicKey: string
  readonly address: NodeAddress
  readonly port: number
}

/** "0" is the one-character form of envelope version ENV0, the only one 0.5.8 knows. */
const ENVELOPE_VERSIONS = "0"

export const bootstrapRecordV0 = (node: BootstrapNode): string =>
  [
    "0",
    ENVELOPE_VERSIONS,
    node.publicKey,
    // An address literal needs no lookup; the IPv6 dial info comes with the signed peer info.
    node.address.ipv4,
    // Short dial info: protocol letter + port; W also carries the path.
    `U${node.port},T${node.port},W${node.port}/ws`,
  ].join("|")

export const hostEntry = (address: NodeAddress): ZoneEntry => ({
  a: [address.ipv4],
  aaaa: [address.ipv6],
})

/** The testnet's zone: the bootstrap list at `root`, and `<node>.<root>` for each node. */
export const bootstrapZone = (root: string, nodes: ReadonlyArray<BootstrapNode>): Zone => {
  const rootName = canonicalName(root)
  const zone = new Map<string, ZoneEntry>()
  zone.set(rootName, { txt: [nodes.map((node) => node.name).join(",")] })
  for (const node of nodes) {
    zone.set(canonicalName(`${node.name}.${rootName}`), {
      txt: [bootstrapRecordV0(node)],
      ...hostEntry(node.address),
    })
  }
  return zone
}

/** Both lists, each value once: two zones naming one host the same address answer it once. */
const concat = (a: ReadonlyArray<string> = [], b: ReadonlyArray<string> = []) => [
  ...new Set([...a, ...b]),
]

export const mergeZones = (zones: Iterable<Zone>): Zone => {
  const merged = new Map<string, ZoneEntry>()
  for (const zone of zones) {
    for (const [name, entry] of zone) {
      const current = merged.get(name) ?? {}
      merged.set(name, {
        txt: concat(current.txt, entry.txt),
        a: concat(current.a, entry.a),
        aaaa: concat(current.aaaa, entry.aaaa),
      })
    }
  }
  return merged
}

/**
 * Zone files hold `{ "owner": { "pid", "startTime" }, "records": { name: { "txt": [...],
 * "a": [...], "aaaa": [...] } } }`. A zone's owner is the process that configured its nodes:
 * once it has died (even by `kill -9`, which runs no clean-up) the zone is no longer answered.
 */
export const zoneToJson = (zone: Zone, owner?: ProcessIdentity): string =>
  JSON.stringify({ ...(owner ? { owner } : {}), records: Object.fromEntries(zone) }, null, 2)

/** The process a zone file belongs to, when it names one. */
export const zoneOwnerFromJson = (json: string): ProcessIdentity | undefined => {
  const parsed: unknown = JSON.parse(json)
  if (typeof parsed !== "object" || parsed === null || !("owner" in parsed)) return undefined
  const owner = parsed.owner as Record<string, unknown> | null
  return typeof owner?.pid === "number" && typeof owner.startTime === "string"
    ? { pid: owner.pid, startTime: owner.startTime }
    : undefined
}

const strings = (value: unknown): ReadonlyArray<string> | undefined =>
  Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined

export const zoneFromJson = (json: string): Zone => {
  const parsed: unknown = JSON.parse(json)
  const zone = new Map<string, ZoneEntry>()
  if (typeof parsed !== "object" || parsed === null || !("records" in parsed)) return zone
  const records = parsed.records
  if (typeof records !== "object" || records === null) return zone
  for (const [name, value] of Object.entries(records)) {
    if (typeof value !== "object" || value === null) continue
    const entry = value as Record<string, unknown>
    const [txt, a, aaaa] = [strings(entry.txt), strings(entry.a), strings(entry.aaaa)]
    zone.set(canonicalName(name), {
      ...(txt ? { txt } : {}),
      ...(a ? { a } : {}),
      ...(aaaa ? { aaaa } : {}),
    })
  }
  return zone
}

/** `<label>.<root>` in canonical form: a node's host name. */
export const canonicalHost = (label: string, root: string): string =>
  canonicalName(`${label}.${canonicalName(root)}`)
