// Envelope v1, for small values (DHT subkeys, manifests):
//
//   offset  size  field
//   0       4     magic "SDWE"
//   4       1     version = 1
//   5       24    random nonce
//   29      n+16  XChaCha20-Poly1305-IETF(plaintext) || tag
//
// The AEAD's associated data is bytes 0..4 (magic and version) followed by the
// caller's associated data, so the header cannot be altered and a value bound
// to one slot (say record key + subkey) does not open in another.
import { Effect, Redacted } from "effect"
import { concatBytes, randomBytes, startsWith } from "./bytes.ts"
import { DecryptError, InvalidEnvelope } from "./errors.ts"
import type { SecretKey } from "./keys.ts"
import { sodium } from "./sodium.ts"

// Typed here: inferred, the declaration would name @types/node's NodeJS.NonSharedUint8Array.
export const ENVELOPE_MAGIC: Uint8Array<ArrayBuffer> = new TextEncoder().encode("SDWE")
export const ENVELOPE_VERSION = 1
const HEADER_BYTES = ENVELOPE_MAGIC.length + 1
const NONCE_BYTES = 24
const TAG_BYTES = 16

/** Bytes an envelope adds to its plaintext (header, nonce, tag): 45. */
export const envelopeOverhead = HEADER_BYTES + NONCE_BYTES + TAG_BYTES

export interface EnvelopeOptions {
  /** Authenticated, not encrypted, not stored: the same bytes must be given to open. */
  readonly associatedData?: Uint8Array
}

const header = concatBytes(ENVELOPE_MAGIC, Uint8Array.of(ENVELOPE_VERSION))

const associatedData = (options: EnvelopeOptions | undefined): Uint8Array =>
  options?.associatedData === undefined ? header : concatBytes(header, options.associatedData)

/** Raw AEAD_XChaCha20_Poly1305 (draft-irtf-cfrg-xchacha): ciphertext || tag. */
export const xchacha20poly1305Encrypt = (
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
): Uint8Array => sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key)

/** Builds an envelope with a given nonce; `sealEnvelope` draws it at random. */
export const sealEnvelopeWithNonce = (
  key: SecretKey,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  options?: EnvelopeOptions,
): Uint8Array =>
  concatBytes(
    header,
    nonce,
    xchacha20poly1305Encrypt(Redacted.value(key), nonce, plaintext, associatedData(options)),
  )

/** Encrypts and authenticates a small value under `key`, with a fresh random nonce. */
export const sealEnvelope = Effect.fnUntraced(function* (
  key: SecretKey,
  plaintext: Uint8Array,
  options?: EnvelopeOptions,
) {
  const nonce = yield* randomBytes(NONCE_BYTES)
  return sealEnvelopeWithNonce(key, nonce, plaintext, options)
})

const invalid = (reason: InvalidEnvelope["reason"], detail?: string) =>
  new InvalidEnvelope(
    detail === undefined ? { format: "Envelope", reason } : { format: "Envelope", reason, detail },
  )

/**
 * Decrypts an envelope made by `sealEnvelope` under the same key and
 * associated data. Never returns unauthenticated bytes.
 */
export const openEnvelope = Effect.fnUntraced(function* (
  key: SecretKey,
  envelope: Uint8Array,
  options?: EnvelopeOptions,
) {
  if (!startsWith(envelope, ENVELOPE_MAGIC.subarray(0, Math.min(envelope.length, 4)))) {
    return yield* invalid("BadMagic")
  }
  if (envelope.length < HEADER_BYTES) return yield* invalid("TooShort")
  const version = envelope[4]
  if (version !== ENVELOPE_VERSION) {
    return yield* invalid("UnsupportedVersion", `unsupported version ${version}`)
  }
  if (envelope.length < envelopeOverhead) return yield* invalid("TooShort")
  const nonce = envelope.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES)
  const sealed = envelope.subarray(HEADER_BYTES + NONCE_BYTES)
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      null,
      sealed,
      associatedData(options),
      nonce,
      Redacted.value(key),
    )
  } catch {
    // libsodium reports a failed tag check by throwing; nothing else can fail here.
    return yield* new DecryptError({ reason: "WrongKeyOrTampered" })
  }
})
