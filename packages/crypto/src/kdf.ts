// Named subkeys: subkey = BLAKE2b-256(key = parent, message = DOMAIN || purpose || name).
//
// Keyed BLAKE2b is a PRF (it is what libsodium's crypto_kdf and crypto_auth
// rest on), so outputs for different messages are independent: one subkey
// reveals nothing about the parent or its siblings. The message is a fixed
// 17-byte domain string, one purpose byte and the UTF-8 name; the name comes
// last, so distinct (purpose, name) pairs always give distinct messages.
// Unlike crypto_kdf_derive_from_key (8-byte context, numeric ids), names of
// any length can be used without a registry of numbers.
import { Redacted } from "effect"
import { unsafeSecret } from "./branded.ts"
import { concatBytes } from "./bytes.ts"
import type { GroupSecret, SecretKey } from "./keys.ts"
import type { SigningSeed } from "./signing.ts"
import { sodium } from "./sodium.ts"

/** Subkey names used by save-dweb packages. */
export const KeyName = {
  /** Encrypts DHT record values (dht-records). */
  dhtValues: "dht-values",
  /** Encrypts file contents before they enter the blob store. */
  fileContents: "file-contents",
  /** Authenticates callers of a member's tunnel. */
  tunnelAuth: "tunnel-auth",
  /**
   * Authenticates asking a member for its Iroh address (data-repo, direct groups). Derived
   * from the group secret, so replicate links (which carry only `dhtValues` and
   * `tunnelAuth`) cannot ask.
   */
  addressAuth: "address-auth",
} as const

const DOMAIN = new TextEncoder().encode("save-dweb/kdf/v1\0")

const Purpose = { secretKey: 1, signingSeed: 2 } as const

const derive = (parent: GroupSecret | SecretKey, purpose: number, name: string): Uint8Array =>
  sodium.crypto_generichash(
    32,
    concatBytes(DOMAIN, Uint8Array.of(purpose), new TextEncoder().encode(name)),
    Redacted.value(parent),
  )

/**
 * The symmetric key named `name` under `parent`: deterministic, and
 * independent of every other name's key.
 */
export const deriveKey = (parent: GroupSecret | SecretKey, name: string): SecretKey =>
  unsafeSecret("SecretKey", derive(parent, Purpose.secretKey, name))

/**
 * The Ed25519 seed named `name` under `parent` (a separate purpose byte, so it
 * never equals the `SecretKey` of the same name).
 */
export const deriveSigningSeed = (parent: GroupSecret | SecretKey, name: string): SigningSeed =>
  unsafeSecret("SigningSeed", derive(parent, Purpose.signingSeed, name))
