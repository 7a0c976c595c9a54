import { Effect, Redacted } from "effect"
import {
  type PublicBytes,
  publicKind,
  type SecretBytes,
  secretKind,
  unsafeSecret,
} from "./branded.ts"
import { InvalidKey, InvalidSignature } from "./errors.ts"
import { sodium } from "./sodium.ts"

/** An Ed25519 public key (32 bytes). */
export type PublicKey = PublicBytes<"PublicKey">
export const PublicKey = publicKind(
  "PublicKey",
  32,
  (input) => new InvalidKey({ ...input, kind: "PublicKey" }),
)

/** A detached Ed25519 signature (64 bytes). */
export type Signature = PublicBytes<"Signature">
export const Signature = publicKind(
  "Signature",
  64,
  ({ reason }) => new InvalidSignature({ reason }),
)

/** The 32-byte seed an Ed25519 key pair is computed from: what to store. */
export type SigningSeed = SecretBytes<"SigningSeed">
export const SigningSeed = secretKind("SigningSeed", 32)

/** libsodium's 64-byte Ed25519 secret key (seed followed by the public key). */
export type SigningSecretKey = SecretBytes<"SigningSecretKey">

export interface SigningKeyPair {
  readonly publicKey: PublicKey
  readonly secretKey: SigningSecretKey
}

/** The key pair of a seed (RFC 8032 §5.1.5): the same seed gives the same pair. */
export const signingKeyPairFromSeed = (seed: SigningSeed): SigningKeyPair => {
  const pair = sodium.crypto_sign_seed_keypair(Redacted.value(seed))
  return {
    publicKey: pair.publicKey as PublicKey,
    secretKey: unsafeSecret("SigningSecretKey", pair.privateKey),
  }
}

/** A fresh Ed25519 key pair. */
export const generateSigningKeyPair: Effect.Effect<SigningKeyPair> = Effect.map(
  SigningSeed.generate,
  signingKeyPairFromSeed,
)

/** The seed of a secret key, to store it in 32 bytes instead of 64. */
export const signingSeedOf = (secretKey: SigningSecretKey): SigningSeed =>
  unsafeSecret("SigningSeed", Redacted.value(secretKey).slice(0, 32))

/** A detached Ed25519 signature of `message` (deterministic). */
export const sign = (secretKey: SigningSecretKey, message: Uint8Array): Signature =>
  sodium.crypto_sign_detached(message, Redacted.value(secretKey)) as Signature

/** Succeeds if `signature` is a valid signature of `message` by `publicKey`. */
export const verify = (
  publicKey: PublicKey,
  message: Uint8Array,
  signature: Signature,
): Effect.Effect<void, InvalidSignature> =>
  Effect.suspend(() =>
    sodium.crypto_sign_verify_detached(signature, message, publicKey)
      ? Effect.void
      : Effect.fail(new InvalidSignature({ reason: "Mismatch" })),
  )
