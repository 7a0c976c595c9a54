import { Effect, Redacted } from "effect"
import { type PublicBytes, publicKind } from "./branded.ts"
import { InvalidMac } from "./errors.ts"
import type { SecretKey } from "./keys.ts"
import { sodium } from "./sodium.ts"

/** A 32-byte HMAC-SHA-512-256 tag (libsodium `crypto_auth`). */
export type Mac = PublicBytes<"Mac">
export const Mac = publicKind("Mac", 32, ({ reason }) => new InvalidMac({ reason }))

/** Authenticates `message` under `key`, e.g. a tunnel caller's challenge. */
export const mac = (key: SecretKey, message: Uint8Array): Mac =>
  sodium.crypto_auth(message, Redacted.value(key)) as Mac

/** Succeeds if `tag` is the MAC of `message` under `key` (compared in constant time). */
export const verifyMac = (
  key: SecretKey,
  message: Uint8Array,
  tag: Mac,
): Effect.Effect<void, InvalidMac> =>
  Effect.suspend(() =>
    sodium.crypto_auth_verify(tag, message, Redacted.value(key))
      ? Effect.void
      : Effect.fail(new InvalidMac({ reason: "Mismatch" })),
  )
