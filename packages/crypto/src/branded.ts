// Fixed-length byte types with a brand, and their constructors and encodings.
// Secrets are wrapped in `Redacted`, so `String`, `JSON.stringify`,
// `util.inspect` and Effect's loggers print `<redacted:Kind>`.
import { type Brand, Effect, Redacted } from "effect"
import {
  constantTimeEqual,
  decodeBase64Url,
  decodeHex,
  randomBytes,
  toBase64Url,
  toHex,
} from "./bytes.ts"
import { InvalidKey, type MalformedReason } from "./errors.ts"

/** Secret bytes of kind `K`; read them with `Redacted.value`. */
export type SecretBytes<K extends string> = Redacted.Redacted<Uint8Array> & Brand.Brand<K>

/** Public bytes of kind `K` (a public key, a hash, a signature). */
export type PublicBytes<K extends string> = Uint8Array & Brand.Brand<K>

export interface MalformedInput {
  readonly reason: MalformedReason
  readonly expected: number
  readonly actual?: number
}

export interface SecretKind<T> {
  readonly length: number
  /** A fresh key from the CSPRNG. */
  readonly generate: Effect.Effect<T>
  /** Copies `bytes`; fails unless there are exactly `length` of them. */
  readonly fromBytes: (bytes: Uint8Array) => Effect.Effect<T, InvalidKey>
  readonly fromHex: (text: string) => Effect.Effect<T, InvalidKey>
  readonly fromBase64Url: (text: string) => Effect.Effect<T, InvalidKey>
  /** Reveals the secret, e.g. to put it in a link: never log the result. */
  readonly toBase64Url: (key: T) => string
  /** Reveals the secret: never log the result. */
  readonly toHex: (key: T) => string
  /** Constant-time equality of two keys. */
  readonly equals: (a: T, b: T) => boolean
}

export interface PublicKind<T, E> {
  readonly length: number
  /** Copies `bytes`; fails unless there are exactly `length` of them. */
  readonly fromBytes: (bytes: Uint8Array) => Effect.Effect<T, E>
  readonly fromHex: (text: string) => Effect.Effect<T, E>
  readonly fromBase64Url: (text: string) => Effect.Effect<T, E>
  readonly toHex: (value: T) => string
  readonly toBase64Url: (value: T) => string
  readonly equals: (a: T, b: T) => boolean
}

const decodeWith =
  <T, E>(
    decode: (text: string) => Uint8Array | undefined,
    fromBytes: (bytes: Uint8Array) => Effect.Effect<T, E>,
    fail: (input: MalformedInput) => E,
    expected: number,
  ) =>
  (text: string): Effect.Effect<T, E> => {
    const bytes = decode(text)
    return bytes === undefined
      ? Effect.fail(fail({ reason: "Encoding", expected }))
      : fromBytes(bytes)
  }

/** Wraps bytes the package produced itself (right length by construction). */
export const unsafeSecret = <K extends string>(kind: K, bytes: Uint8Array): SecretBytes<K> =>
  Redacted.make(bytes, { label: kind }) as SecretBytes<K>

export const secretKind = <K extends string>(
  kind: K,
  length: number,
): SecretKind<SecretBytes<K>> => {
  const fail = (input: MalformedInput) => new InvalidKey({ ...input, kind })
  const fromBytes = (bytes: Uint8Array): Effect.Effect<SecretBytes<K>, InvalidKey> =>
    bytes.length === length
      ? Effect.succeed(unsafeSecret(kind, bytes.slice()))
      : Effect.fail(fail({ reason: "Length", expected: length, actual: bytes.length }))
  return {
    length,
    generate: Effect.map(randomBytes(length), (bytes) => unsafeSecret(kind, bytes)),
    fromBytes,
    fromHex: decodeWith(decodeHex, fromBytes, fail, length),
    fromBase64Url: decodeWith(decodeBase64Url, fromBytes, fail, length),
    toBase64Url: (key) => toBase64Url(Redacted.value(key)),
    toHex: (key) => toHex(Redacted.value(key)),
    equals: (a, b) => constantTimeEqual(Redacted.value(a), Redacted.value(b)),
  }
}

export const publicKind = <K extends string, E>(
  _kind: K,
  length: number,
  fail: (input: MalformedInput) => E,
): PublicKind<PublicBytes<K>, E> => {
  const fromBytes = (bytes: Uint8Array): Effect.Effect<PublicBytes<K>, E> =>
    bytes.length === length
      ? Effect.succeed(bytes.slice() as PublicBytes<K>)
      : Effect.fail(fail({ reason: "Length", expected: length, actual: bytes.length }))
  return {
    length,
    fromBytes,
    fromHex: decodeWith(decodeHex, fromBytes, fail, length),
    fromBase64Url: decodeWith(decodeBase64Url, fromBytes, fail, length),
    toHex,
    toBase64Url,
    equals: constantTimeEqual,
  }
}
