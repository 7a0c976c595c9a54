// Every secret a link carries is 32 bytes (a symmetric key, a group root
// secret or an Ed25519 seed). They live in `Redacted` so that String(),
// JSON.stringify() and util.inspect() print `<redacted>`; formatLink is the
// only way back to text.
import { Redacted, Schema } from "effect"

export const SECRET_KEY_BYTES = 32

/** Why `bytes` is not a 32-byte key, or `undefined` when it is one. */
export const checkKeyLength = (bytes: Uint8Array): string | undefined =>
  bytes.length === SECRET_KEY_BYTES
    ? undefined
    : `expected ${SECRET_KEY_BYTES} bytes, got ${bytes.length}`

export const KeyBytes = Schema.Uint8Array.check(
  Schema.makeFilter(checkKeyLength, { expected: `${SECRET_KEY_BYTES} bytes` }),
)

/** A 32-byte secret; the JSON codec refuses to encode it. */
export const SecretKey = Schema.Redacted(KeyBytes, { disallowJsonEncode: true })

export type SecretKey = Redacted.Redacted<Uint8Array>

/** Wraps a copy of `bytes`, so later changes to the caller's array do not leak in. */
export const makeSecretKey = (bytes: Uint8Array): SecretKey => Redacted.make(Uint8Array.from(bytes))
