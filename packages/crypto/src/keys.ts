import { type SecretBytes, secretKind } from "./branded.ts"

/**
 * The random root secret of a group. It is never used as a key itself: every
 * key is derived from it under a name with `deriveKey`.
 */
export type GroupSecret = SecretBytes<"GroupSecret">
export const GroupSecret = secretKind("GroupSecret", 32)

/**
 * A 32-byte symmetric key: for envelopes, encrypted files and MACs. Usually
 * derived with `deriveKey`; one key per purpose.
 */
export type SecretKey = SecretBytes<"SecretKey">
export const SecretKey = secretKind("SecretKey", 32)
