import { Effect } from "effect"
import { InvalidCollection } from "./errors.ts"
import { type BlobHash, blake3, bytesToHex, hexToBytes } from "./hash.ts"

/** One named member of a collection. */
export interface CollectionEntry {
  readonly name: string
  readonly hash: BlobHash
}

/**
 * Iroh's collection format (iroh-blobs 0.35 `format::collection`), rebuilt
 * here so that the memory layer produces the very hashes Iroh does:
 *
 * - the root is a hash sequence: 32-byte hashes back to back, the first one
 *   naming the metadata blob, the others the members in order;
 * - the metadata blob is postcard's encoding of
 *   `{ header: *b"CollectionV0.", names: Vec<String> }`: 13 raw bytes, then a
 *   varint count, then each name as varint length + UTF-8.
 */
const header = new TextEncoder().encode("CollectionV0.")
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder("utf-8", { fatal: true })

const maxNameBytes = 4096

/**
 * A name is a relative path with `/` separators (that is how Iroh and
 * `exportCollection` lay it out on disk), so anything that could escape the
 * export directory is refused.
 */
export const nameProblem = (name: string): string | undefined => {
  if (name.length === 0) return "empty name"
  if (utf8.encode(name).length > maxNameBytes) return `name longer than ${maxNameBytes} bytes`
  if (name.includes("\0")) return "name contains NUL"
  if (name.includes("\\")) return "name contains a backslash"
  if (name.startsWith("/")) return "name is an absolute path"
  for (const segment of name.split("/")) {
    if (segment === "" || segment === "." || segment === "..")
      return `name has an empty, "." or ".." segment`
  }
  return undefined
}

const compareNames = (a: string, b: string): number =>
  Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"))

/** Validates names, refuses duplicates, and sorts by UTF-8 bytes so equal maps hash equally. */
export const normalizeEntries = (
  entries: Iterable<CollectionEntry>,
): Effect.Effect<ReadonlyArray<CollectionEntry>, InvalidCollection> =>
  Effect.suspend(() => {
    const seen = new Set<string>()
    const out: Array<CollectionEntry> = []
    for (const entry of entries) {
      const problem = nameProblem(entry.name)
      if (problem !== undefined)
        return Effect.fail(
          new InvalidCollection({ reason: `${problem}: ${JSON.stringify(entry.name)}` }),
        )
      if (seen.has(entry.name))
        return Effect.fail(
          new InvalidCollection({ reason: `duplicate name ${JSON.stringify(entry.name)}` }),
        )
      seen.add(entry.name)
      out.push({ name: entry.name, hash: entry.hash })
    }
    out.sort((a, b) => compareNames(a.name, b.name))
    return Effect.succeed(out)
  })

const pushVarint = (out: Array<number>, value: number) => {
  let v = value
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80)
    v = Math.floor(v / 128)
  }
  out.push(v)
}

export const encodeMeta = (names: ReadonlyArray<string>): Uint8Array => {
  const parts: Array<Uint8Array> = [header]
  const count: Array<number> = []
  pushVarint(count, names.length)
  parts.push(Uint8Array.from(count))
  for (const name of names) {
    const bytes = utf8.encode(name)
    const len: Array<number> = []
    pushVarint(len, bytes.length)
    parts.push(Uint8Array.from(len), bytes)
  }
  return Buffer.concat(parts)
}

export const decodeMeta = (bytes: Uint8Array): ReadonlyArray<string> | undefined => {
  if (bytes.length < header.length) return undefined
  for (let i = 0; i < header.length; i++) if (bytes[i] !== header[i]) return undefined
  let pos = header.length
  const readVarint = (): number | undefined => {
    let result = 0
    let shift = 1
    for (let i = 0; i < 10; i++) {
      const b = bytes[pos++]
      if (b === undefined) return undefined
      result += (b & 0x7f) * shift
      if ((b & 0x80) === 0) return result
      shift *= 128
    }
    return undefined
  }
  const count = readVarint()
  if (count === undefined || count > bytes.length) return undefined
  const names: Array<string> = []
  for (let i = 0; i < count; i++) {
    const len = readVarint()
    if (len === undefined || pos + len > bytes.length) return undefined
    try {
      names.push(utf8Decoder.decode(bytes.subarray(pos, pos + len)))
    } catch {
      return undefined
    }
    pos += len
  }
  return pos === bytes.length ? names : undefined
}

export const encodeHashSeq = (hashes: ReadonlyArray<BlobHash>): Uint8Array => {
  const out = new Uint8Array(hashes.length * 32)
  hashes.forEach((h, i) => {
    out.set(hexToBytes(h), i * 32)
  })
  return out
}

export const decodeHashSeq = (bytes: Uint8Array): ReadonlyArray<BlobHash> | undefined => {
  if (bytes.length % 32 !== 0) return undefined
  const out: Array<BlobHash> = []
  for (let i = 0; i < bytes.length; i += 32)
    out.push(bytesToHex(bytes.subarray(i, i + 32)) as BlobHash)
  return out
}

/** The blobs a collection consists of, besides its members. */
export interface EncodedCollection {
  readonly root: BlobHash
  readonly hashSeq: Uint8Array
  readonly meta: BlobHash
  readonly metaBytes: Uint8Array
}

export const encodeCollection = async (
  entries: ReadonlyArray<CollectionEntry>,
): Promise<EncodedCollection> => {
  const metaBytes = encodeMeta(entries.map((e) => e.name))
  const meta = await blake3(metaBytes)
  const hashSeq = encodeHashSeq([meta, ...entries.map((e) => e.hash)])
  const root = await blake3(hashSeq)
  return { root, hashSeq, meta, metaBytes }
}
