import type { StoredRoot } from "./blob-store.ts"
import type { CollectionEntry } from "./collection.ts"
import type { BlobHash } from "./hash.ts"

export interface CollectionInfo {
  readonly meta: BlobHash
  readonly entries: ReadonlyArray<CollectionEntry>
}

/**
 * Which blobs the store keeps, and why: the rules every layer shares. The
 * Iroh layer mirrors this state into Iroh tags (so Iroh's GC agrees); the
 * memory layer needs nothing else.
 */
export class Catalog {
  readonly pins = new Set<BlobHash>()
  readonly collections = new Map<BlobHash, CollectionInfo>()
  /** How many collections hold each hash (names blob and members). */
  private readonly refs = new Map<BlobHash, number>()
  /** Hashes that running fetches are bringing in: never freed under their feet. */
  private readonly inflight = new Map<number, ReadonlySet<BlobHash>>()
  private nextFetch = 0

  /** Returns true if the pin set changed. */
  pin(hash: BlobHash): boolean {
    // A collection root is already kept; a pin on it too would only confuse
    // Iroh's GC (it walks a hash once, as whichever kind it meets first).
    if (this.collections.has(hash) || this.pins.has(hash)) return false
    this.pins.add(hash)
    return true
  }

  addCollection(root: BlobHash, info: CollectionInfo): void {
    if (this.collections.has(root)) return
    this.collections.set(root, info)
    this.pins.delete(root)
    for (const h of [info.meta, ...info.entries.map((e) => e.hash)])
      this.refs.set(h, (this.refs.get(h) ?? 0) + 1)
  }

  /** The collection takes over its members' pins. Returns true if the pin set changed. */
  adopt(entries: ReadonlyArray<CollectionEntry>): boolean {
    let changed = false
    for (const e of entries) changed = this.pins.delete(e.hash) || changed
    return changed
  }

  /**
   * Drops a root and returns the blobs that may now be unheld (the caller
   * keeps those that `isHeld` still reports).
   */
  removeRoot(
    hash: BlobHash,
  ):
    | { readonly kind: "blob" | "collection"; readonly candidates: ReadonlyArray<BlobHash> }
    | undefined {
    if (this.pins.delete(hash)) return { kind: "blob", candidates: [hash] }
    const info = this.collections.get(hash)
    if (info === undefined) return undefined
    this.collections.delete(hash)
    const members = [info.meta, ...info.entries.map((e) => e.hash)]
    for (const h of members) {
      const n = (this.refs.get(h) ?? 0) - 1
      if (n <= 0) this.refs.delete(h)
      else this.refs.set(h, n)
    }
    return { kind: "collection", candidates: [...new Set([hash, ...members])] }
  }

  isHeld(hash: BlobHash): boolean {
    if (this.pins.has(hash) || this.collections.has(hash) || this.refs.has(hash)) return true
    for (const set of this.inflight.values()) if (set.has(hash)) return true
    return false
  }

  isCollection(hash: BlobHash): boolean {
    return this.collections.has(hash)
  }

  beginFetch(): number {
    return this.nextFetch++
  }

  holdForFetch(id: number, hashes: Iterable<BlobHash>): void {
    this.inflight.set(id, new Set(hashes))
  }

  endFetch(id: number): void {
    this.inflight.delete(id)
  }

  roots(): ReadonlyArray<StoredRoot> {
    const out: Array<StoredRoot> = [
      ...[...this.pins].map((hash) => ({ hash, kind: "blob" as const })),
      ...[...this.collections.keys()].map((hash) => ({ hash, kind: "collection" as const })),
    ]
    return out.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0))
  }
}
