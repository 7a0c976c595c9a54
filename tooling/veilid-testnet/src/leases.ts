// Address leases, shared by every process in one namespace (test workers run
// in parallel). A lease is a file named after the address, written under the
// pool's lock; a lease whose owner died is taken over.
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs"
import { join } from "node:path"
import { Data } from "effect"
import { NODE_IP_CAPACITY, type NodeAddress, nodeAddressAt, nodeIndexOf } from "./addresses.ts"
import { isAlive, type ProcessIdentity, processIdentity } from "./process-info.ts"

export class AddressPoolExhausted extends Data.TaggedError("AddressPoolExhausted")<{
  readonly dir: string
}> {}

export interface LeasePool {
  /** Directory of lease files. */
  readonly dir: string
  /** Called after a lease is taken, e.g. to put the addresses on the interface. */
  readonly onAcquire?: (address: NodeAddress) => void
  /** Called before a lease is given back. */
  readonly onRelease?: (address: NodeAddress) => void
}

interface LeaseFile extends ProcessIdentity {
  readonly label: string
}

const readLease = (path: string): LeaseFile | undefined => {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, "utf8"))
    if (typeof parsed === "object" && parsed !== null && "pid" in parsed) {
      return parsed as LeaseFile
    }
  } catch {}
  return undefined
}

const LOCK = ".lock"
const LOCK_TIMEOUT_MS = 10_000
/** A lock directory without an owner file this old was left by a crash. */
const ORPHAN_LOCK_MS = 5_000
const pause = new Int32Array(new SharedArrayBuffer(4))

/** Runs `f` holding the pool's lock (a directory: mkdir is atomic). Locks of dead holders are broken. */
const withLock = <A>(dir: string, f: () => A): A => {
  const lock = join(dir, LOCK)
  const deadline = Date.now() + LOCK_TIMEOUT_MS
  for (;;) {
    try {
      mkdirSync(lock)
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    }
    const holder = readLease(join(lock, "owner"))
    let orphaned = false
    try {
      orphaned = holder === undefined && Date.now() - statSync(lock).mtimeMs > ORPHAN_LOCK_MS
    } catch {}
    if ((holder !== undefined && !isAlive(holder)) || orphaned) {
      rmSync(lock, { recursive: true, force: true })
      continue
    }
    if (Date.now() > deadline) throw new Error(`address lease lock ${lock} held for too long`)
    Atomics.wait(pause, 0, 0, 2)
  }
  try {
    writeFileSync(join(lock, "owner"), JSON.stringify({ ...processIdentity(), label: "lock" }))
    return f()
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

/**
 * Leases the lowest free node address for `label` ("<testnet>/<node>"). The
 * lease file is named after the IPv4 address; the IPv6 one has the same index.
 */
export const acquireAddress = (
  pool: LeasePool,
  label: string,
  owner: ProcessIdentity = processIdentity(),
): NodeAddress => {
  mkdirSync(pool.dir, { recursive: true })
  const content = JSON.stringify({ ...owner, label } satisfies LeaseFile)
  const address = withLock(pool.dir, () => {
    const taken = new Set(readdirSync(pool.dir))
    for (let index = 0; index < NODE_IP_CAPACITY; index++) {
      const candidate = nodeAddressAt(index)
      if (candidate === undefined) break
      const path = join(pool.dir, candidate.ipv4)
      if (taken.has(candidate.ipv4)) {
        const lease = readLease(path)
        // Taken over only when its owner died.
        if (lease === undefined || isAlive(lease)) continue
      }
      writeFileSync(path, content)
      return candidate
    }
    return undefined
  })
  if (address === undefined) throw new AddressPoolExhausted({ dir: pool.dir })
  try {
    pool.onAcquire?.(address)
  } catch (error) {
    unlinkSync(join(pool.dir, address.ipv4))
    throw error
  }
  return address
}

export const releaseAddress = (pool: LeasePool, address: NodeAddress): void => {
  try {
    pool.onRelease?.(address)
  } finally {
    try {
      unlinkSync(join(pool.dir, address.ipv4))
    } catch {}
  }
}

/** Addresses currently leased, with their labels (for status output and tests). */
export const listLeases = (
  pool: LeasePool,
): Array<{ address: NodeAddress; label: string; alive: boolean }> => {
  try {
    return readdirSync(pool.dir).flatMap((ip) => {
      const index = nodeIndexOf(ip)
      const address = index === undefined ? undefined : nodeAddressAt(index)
      const lease = address && readLease(join(pool.dir, ip))
      return address && lease ? [{ address, label: lease.label, alive: isAlive(lease) }] : []
    })
  } catch {
    return []
  }
}
