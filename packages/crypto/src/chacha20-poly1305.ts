// Native ChaCha20-Poly1305 (RFC 8439, node:crypto's OpenSSL) keyed through
// HChaCha20: the pieces of XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03)
// with the bulk work done natively. libsodium's WebAssembly seals about
// 330-470 MiB/s; OpenSSL does several GiB/s.
//
// node:crypto is Node-only (a browser's WebCrypto has no ChaCha20), so the file
// format that uses this (v2) is too.
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from "node:crypto"

export const KEY_BYTES = 32
export const NONCE_BYTES = 12
export const TAG_BYTES = 16
/** HChaCha20's input: the first 16 bytes of an XChaCha20 nonce. */
export const HCHACHA20_INPUT_BYTES = 16

const ALGORITHM = "chacha20-poly1305"

// "expand 32-byte k" as four little-endian words (RFC 8439 §2.3).
const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574] as const

const quarterRound = (x: Uint32Array, a: number, b: number, c: number, d: number) => {
  let va = x[a] as number
  let vb = x[b] as number
  let vc = x[c] as number
  let vd = x[d] as number
  va = (va + vb) >>> 0
  vd ^= va
  vd = ((vd << 16) | (vd >>> 16)) >>> 0
  vc = (vc + vd) >>> 0
  vb ^= vc
  vb = ((vb << 12) | (vb >>> 20)) >>> 0
  va = (va + vb) >>> 0
  vd ^= va
  vd = ((vd << 8) | (vd >>> 24)) >>> 0
  vc = (vc + vd) >>> 0
  vb ^= vc
  vb = ((vb << 7) | (vb >>> 25)) >>> 0
  x[a] = va
  x[b] = vb
  x[c] = vc
  x[d] = vd
}

/**
 * HChaCha20 (draft-irtf-cfrg-xchacha-03 §2.2): a subkey from a key and 16
 * bytes. The standard libsodium.js build does not export
 * `crypto_core_hchacha20` (only the sumo build does, at twice the
 * WebAssembly), and it runs once per file, so it is written out here: the
 * ChaCha20 rounds over constants, key and input, without the final addition,
 * keeping words 0..3 and 12..15.
 */
export const hchacha20 = (key: Uint8Array, input: Uint8Array): Uint8Array => {
  if (key.length !== KEY_BYTES || input.length !== HCHACHA20_INPUT_BYTES) {
    throw new RangeError("HChaCha20 takes a 32-byte key and a 16-byte input")
  }
  const keyWords = new DataView(key.buffer, key.byteOffset, KEY_BYTES)
  const inputWords = new DataView(input.buffer, input.byteOffset, HCHACHA20_INPUT_BYTES)
  const x = new Uint32Array(16)
  x.set(SIGMA)
  for (let i = 0; i < 8; i++) x[4 + i] = keyWords.getUint32(4 * i, true)
  for (let i = 0; i < 4; i++) x[12 + i] = inputWords.getUint32(4 * i, true)
  for (let round = 0; round < 10; round++) {
    quarterRound(x, 0, 4, 8, 12)
    quarterRound(x, 1, 5, 9, 13)
    quarterRound(x, 2, 6, 10, 14)
    quarterRound(x, 3, 7, 11, 15)
    quarterRound(x, 0, 5, 10, 15)
    quarterRound(x, 1, 6, 11, 12)
    quarterRound(x, 2, 7, 8, 13)
    quarterRound(x, 3, 4, 9, 14)
  }
  const out = new Uint8Array(KEY_BYTES)
  const outWords = new DataView(out.buffer)
  for (let i = 0; i < 4; i++) {
    outWords.setUint32(4 * i, x[i] as number, true)
    outWords.setUint32(16 + 4 * i, x[12 + i] as number, true)
  }
  x.fill(0)
  return out
}

/**
 * A key for `seal` and `open`. Importing raw key bytes on every call costs
 * about a third of the time of sealing 64 KiB, so a file's subkey is imported
 * once. The KeyObject's copy lives in Node's native memory, freed (not wiped)
 * when it is collected; the caller wipes the bytes it passed in.
 */
export const importKey = (key: Uint8Array): KeyObject => createSecretKey(key)

/** Seals `plaintext`; returns the ciphertext and the 16-byte tag separately (no copy to join them). */
export const seal = (
  key: KeyObject | Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  associatedData: Uint8Array,
): { readonly ciphertext: Uint8Array; readonly tag: Uint8Array } => {
  const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES })
  cipher.setAAD(associatedData, { plaintextLength: plaintext.length })
  const ciphertext = cipher.update(plaintext)
  cipher.final()
  return { ciphertext, tag: cipher.getAuthTag() }
}

/** Opens a ciphertext and its tag; undefined unless it authenticates (nothing unverified escapes). */
export const open = (
  key: KeyObject | Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  associatedData: Uint8Array,
): Uint8Array | undefined => {
  const decipher = createDecipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES })
  decipher.setAAD(associatedData, { plaintextLength: ciphertext.length })
  decipher.setAuthTag(tag)
  const plaintext = decipher.update(ciphertext)
  try {
    decipher.final()
  } catch {
    plaintext.fill(0)
    return undefined
  }
  return plaintext
}
