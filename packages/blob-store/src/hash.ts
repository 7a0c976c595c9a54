import { Schema } from "effect"
import { createBLAKE3 } from "hash-wasm"

/**
 * BLAKE3 hash of a blob's bytes, as 64 lowercase hex characters.
 *
 * Hex rather than Iroh's base32 string form: it is what Iroh names its data
 * files with, what `b3sum` prints, and what other languages produce without an
 * Iroh library. The Iroh layer converts at its edge.
 */
export const BlobHash = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^[0-9a-f]{64}$/)),
  Schema.brand("BlobHash"),
)
export type BlobHash = typeof BlobHash.Type

export const isBlobHash = Schema.is(BlobHash)
export const decodeBlobHash = Schema.decodeUnknownEffect(BlobHash)

const hexTable = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

export const bytesToHex = (bytes: Uint8Array): string => {
  let out = ""
  for (const b of bytes) out += hexTable[b]
  return out
}

export const hexToBytes = (hex: string): Uint8Array => {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

/** Incremental BLAKE3 (WebAssembly), for bytes that do not come through Iroh. */
export interface Blake3Hasher {
  readonly update: (chunk: Uint8Array) => void
  readonly digest: () => BlobHash
}

export const makeBlake3 = async (): Promise<Blake3Hasher> => {
  const h = await createBLAKE3()
  h.init()
  return {
    update: (chunk) => {
      h.update(chunk)
    },
    digest: () => h.digest("hex") as BlobHash,
  }
}

export const blake3 = async (bytes: Uint8Array): Promise<BlobHash> => {
  const h = await makeBlake3()
  h.update(bytes)
  return h.digest()
}

// Iroh prints hashes in RFC 4648 base32, lowercase, without padding.
const base32Alphabet = "abcdefghijklmnopqrstuvwxyz234567"

export const irohToHex = (s: string): BlobHash => {
  if (s.length === 64) return s.toLowerCase() as BlobHash
  const out = new Uint8Array(32)
  let bits = 0
  let value = 0
  let index = 0
  for (const c of s) {
    value = (value << 5) | base32Alphabet.indexOf(c)
    bits += 5
    if (bits >= 8) {
      out[index++] = (value >>> (bits - 8)) & 0xff
      bits -= 8
    }
  }
  return bytesToHex(out) as BlobHash
}
