// The testnet's address plan. Every namespace uses the same plan: nothing
// outside a namespace can see its addresses, so runs cannot collide.
//
// Each node has one IPv4 and one IPv6 address. Veilid 0.5.8 wants inbound
// relays for every address family it cannot be reached on directly, IPv6
// included, even with `address_types: ["IPV4"]`, and publishes no peer info
// until it has them: an IPv4-only network never becomes ready.
//
// 11.0.0.0/8 is public unicast (allocated to a US government network) and
// 3fff::/20 is the IPv6 documentation prefix of RFC 9637, which veilid-tools
// 0.5.8 does not know and so counts as global; both rank PublicInternet. No
// packet to them ever leaves the namespace, which has no interface but lo and
// a veth pair whose two ends are both inside.

/** veth end that carries the nodes' addresses and the default route. */
export const NODE_DEVICE = "sdw0"
/** veth end that holds the gateway address. */
export const GATEWAY_DEVICE = "sdw1"
export const PREFIX_LENGTH = 16
export const SUBNET_BASE = "11.77.0.0"
/** Veilid counts an address as global only behind `default via <gateway>`. */
export const GATEWAY_IP = "11.77.0.1"
/** sdw0's own address: keeps the subnet route on sdw0 while no node runs. */
export const ANCHOR_IP = "11.77.0.2"
export const IPV6_PREFIX_LENGTH = 20
/** Not assigned to any interface: Linux refuses an IPv6 gateway that is a local address. */
export const GATEWAY_IPV6 = "3fff::1"
export const ANCHOR_IPV6 = "3fff::2"
/** Veilid's default port; each node has its own address, so all can use it. */
export const NODE_PORT = 5150
/** DNS inside the namespace listens on its loopback. */
export const DNS_IP = "127.0.0.1"
export const DNS_PORT = 53

export const ipv4ToInt = (ip: string): number | undefined => {
  const parts = ip.split(".")
  if (parts.length !== 4) return undefined
  let value = 0
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined
    const octet = Number(part)
    if (octet > 255) return undefined
    value = value * 256 + octet
  }
  return value
}

export const intToIpv4 = (value: number): string =>
  [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join(".")

/**
 * Port of veilid-tools 0.5.8 `ipv4addr_is_global` (ip_extra.rs): true when a
 * node bound to `ip` gets PublicInternet dial info (given a default route).
 */
export const isVeilidGlobalIpv4 = (ip: string): boolean => {
  const value = ipv4ToInt(ip)
  if (value === undefined) return false
  if (value === 0xc0000009 || value === 0xc000000a) return true
  const [a, b, c] = [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff]
  const isPrivate = a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)
  const isLoopback = a === 127
  const isLinkLocal = a === 169 && b === 254
  const isBroadcast = value === 0xffffffff
  const isDocumentation =
    (a === 192 && b === 0 && c === 2) ||
    (a === 198 && b === 51 && c === 100) ||
    (a === 203 && b === 0 && c === 113)
  const isShared = a === 100 && (b & 0xc0) === 0x40
  const isIetf = a === 192 && b === 0 && c === 0
  const isReserved = (a & 240) === 240 && !isBroadcast
  const isBenchmarking = a === 198 && (b & 0xfe) === 18
  return !(
    isPrivate ||
    isLoopback ||
    isLinkLocal ||
    isBroadcast ||
    isDocumentation ||
    isShared ||
    isIetf ||
    isReserved ||
    isBenchmarking ||
    a === 0
  )
}

const subnetBase = ipv4ToInt(SUBNET_BASE) ?? 0
const hostCount = 2 ** (32 - PREFIX_LENGTH)

/**
 * The i-th address nodes may use: 11.77.1.1 onwards, skipping .0 and .255
 * in the last octet (harmless on a /16, but they look like broadcast/network
 * addresses to people reading logs) and 11.77.0.x (gateway, anchor).
 */
export const nodeIpAt = (index: number): string | undefined => {
  if (!Number.isInteger(index) || index < 0) return undefined
  const perBlock = 254
  const block = 1 + Math.floor(index / perBlock)
  const host = 1 + (index % perBlock)
  const offset = block * 256 + host
  return offset < hostCount - 1 ? intToIpv4(subnetBase + offset) : undefined
}

/** Number of addresses `nodeIpAt` hands out. */
export const NODE_IP_CAPACITY = 254 * 255

/** Inverse of `nodeIpAt`. */
export const nodeIndexOf = (ip: string): number | undefined => {
  const value = ipv4ToInt(ip)
  if (value === undefined) return undefined
  const offset = value - subnetBase
  const block = Math.floor(offset / 256)
  const host = offset % 256
  if (block < 1 || host < 1 || host > 254) return undefined
  const index = (block - 1) * 254 + (host - 1)
  return index < NODE_IP_CAPACITY ? index : undefined
}

/** Parses any IPv6 text form into 16 bytes (no zone id, no embedded IPv4). */
export const ipv6ToBytes = (text: string): Uint8Array | undefined => {
  if (!/^[0-9a-fA-F:]+$/.test(text)) return undefined
  const halves = text.split("::")
  if (halves.length > 2) return undefined
  const groups = (part: string | undefined) => (part ? part.split(":") : [])
  const head = groups(halves[0])
  const tail = groups(halves[1])
  const missing = 8 - head.length - tail.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail]
  const bytes = new Uint8Array(16)
  for (const [i, group] of all.entries()) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined
    const value = Number.parseInt(group, 16)
    bytes[i * 2] = value >> 8
    bytes[i * 2 + 1] = value & 0xff
  }
  return bytes
}

/** RFC 5952 text: lower case, no leading zeros, longest run of 2+ zero groups as "::". */
export const bytesToIpv6 = (bytes: Uint8Array): string => {
  const groups = Array.from(
    { length: 8 },
    (_, i) => ((bytes[i * 2] ?? 0) << 8) | (bytes[i * 2 + 1] ?? 0),
  )
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart === -1) return hex.join(":")
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`
}

/**
 * Port of veilid-tools 0.5.8 `ipv6addr_is_unicast_global`: not multicast,
 * loopback, link-local, unique-local, unspecified or 2001:db8::/32.
 */
export const isVeilidGlobalIpv6 = (ip: string): boolean => {
  const bytes = ipv6ToBytes(ip)
  if (bytes === undefined) return false
  const [b0 = 0, b1 = 0, b2 = 0, b3 = 0] = bytes
  const allZero = (upTo: number) => bytes.subarray(0, upTo).every((b) => b === 0)
  const isMulticast = b0 === 0xff
  const isLoopback = allZero(15) && bytes[15] === 1
  const isUnspecified = allZero(16)
  const isLinkLocal = b0 === 0xfe && (b1 & 0xc0) === 0x80
  const isUniqueLocal = (b0 & 0xfe) === 0xfc
  const isDocumentation = b0 === 0x20 && b1 === 0x01 && b2 === 0x0d && b3 === 0xb8
  return !(
    isMulticast ||
    isLoopback ||
    isUnspecified ||
    isLinkLocal ||
    isUniqueLocal ||
    isDocumentation
  )
}

/** The /56 Veilid groups IPv6 peers by (max_connections_per_ip6_prefix_size). */
export const IPV6_BLOCK_BITS = 56

/**
 * The i-th node's IPv6 address: 3fff:1:HHLL:MM00::1, one /56 per node so
 * Veilid does not take the nodes for one network (it would not use them as
 * route hops for each other).
 */
export const nodeIpv6At = (index: number): string | undefined => {
  if (!Number.isInteger(index) || index < 0 || index >= NODE_IP_CAPACITY) return undefined
  const bytes = new Uint8Array(16)
  bytes.set([0x3f, 0xff, 0x00, 0x01, index >> 16, (index >> 8) & 0xff, index & 0xff], 0)
  bytes[15] = 1
  return bytesToIpv6(bytes)
}

export interface NodeAddress {
  readonly index: number
  readonly ipv4: string
  readonly ipv6: string
}

export const nodeAddressAt = (index: number): NodeAddress | undefined => {
  const ipv4 = nodeIpAt(index)
  const ipv6 = nodeIpv6At(index)
  return ipv4 && ipv6 ? { index, ipv4, ipv6 } : undefined
}
