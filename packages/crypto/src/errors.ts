import { Data } from "effect"

/** Why bytes could not be turned into a key, hash, signature or MAC. */
export type MalformedReason = "Length" | "Encoding"

const describeMalformed = (
  what: string,
  reason: MalformedReason,
  expected: number,
  actual: number | undefined,
): string =>
  reason === "Length"
    ? `${what} must be ${expected} bytes, got ${actual ?? "?"}`
    : `${what} is not valid hex or unpadded base64url`

interface MalformedArgs {
  readonly reason: MalformedReason
  readonly expected: number
  readonly actual?: number
}

/** Key material of the wrong length, or a string that is not a canonical encoding. */
export class InvalidKey extends Data.TaggedError("InvalidKey")<
  MalformedArgs & { readonly kind: string; readonly message: string }
> {
  constructor(args: MalformedArgs & { readonly kind: string }) {
    super({
      ...args,
      message: describeMalformed(args.kind, args.reason, args.expected, args.actual),
    })
  }
}

/** A BLAKE3 hash of the wrong length, or a string that is not a canonical encoding. */
export class InvalidHash extends Data.TaggedError("InvalidHash")<
  MalformedArgs & { readonly message: string }
> {
  constructor(args: MalformedArgs) {
    super({
      ...args,
      message: describeMalformed("Blake3Hash", args.reason, args.expected, args.actual),
    })
  }
}

export type InvalidSignatureReason = MalformedReason | "Mismatch"

/** A signature that is malformed or does not verify under the given public key. */
export class InvalidSignature extends Data.TaggedError("InvalidSignature")<{
  readonly reason: InvalidSignatureReason
  readonly message: string
}> {
  constructor(args: { readonly reason: InvalidSignatureReason }) {
    super({
      ...args,
      message:
        args.reason === "Mismatch"
          ? "signature does not verify under this public key"
          : describeMalformed("Signature", args.reason, 64, undefined),
    })
  }
}

export type InvalidMacReason = MalformedReason | "Mismatch"

/** A MAC that is malformed or does not match the message under the given key. */
export class InvalidMac extends Data.TaggedError("InvalidMac")<{
  readonly reason: InvalidMacReason
  readonly message: string
}> {
  constructor(args: { readonly reason: InvalidMacReason }) {
    super({
      ...args,
      message:
        args.reason === "Mismatch"
          ? "MAC does not match this message and key"
          : describeMalformed("Mac", args.reason, 32, undefined),
    })
  }
}

export type EnvelopeFormat = "Envelope" | "FileStream"

export type InvalidEnvelopeReason =
  | "TooShort"
  | "BadMagic"
  | "UnsupportedVersion"
  | "BadChunkSize"
  | "NotSeekable"

/** The bytes are not an envelope (or encrypted file) this version of the package can read. */
export class InvalidEnvelope extends Data.TaggedError("InvalidEnvelope")<{
  readonly format: EnvelopeFormat
  readonly reason: InvalidEnvelopeReason
  readonly message: string
}> {
  constructor(args: {
    readonly format: EnvelopeFormat
    readonly reason: InvalidEnvelopeReason
    readonly detail?: string
  }) {
    super({
      format: args.format,
      reason: args.reason,
      message: `invalid ${args.format === "Envelope" ? "envelope" : "encrypted file"}: ${
        args.detail ?? invalidEnvelopeMessages[args.reason]
      }`,
    })
  }
}

const invalidEnvelopeMessages: Record<InvalidEnvelopeReason, string> = {
  TooShort: "too short",
  BadMagic: "bad magic bytes",
  UnsupportedVersion: "unsupported version",
  BadChunkSize: "chunk size out of range",
  NotSeekable: "cannot be read from the middle",
}

/**
 * Authenticated decryption failed. The reasons say what can be told apart:
 * - `WrongKeyOrTampered`: the first (or only) ciphertext did not authenticate:
 *   a wrong key, or modified bytes.
 * - `TamperedOrReordered`: a later chunk of a file did not authenticate after
 *   earlier chunks did under this key: a chunk was modified, moved, repeated or dropped.
 * - `Truncated`: the file ended before its final chunk.
 * - `TrailingData`: bytes follow the final chunk.
 */
export type DecryptErrorReason =
  | "WrongKeyOrTampered"
  | "TamperedOrReordered"
  | "Truncated"
  | "TrailingData"

export class DecryptError extends Data.TaggedError("DecryptError")<{
  readonly reason: DecryptErrorReason
  /** Index of the failing chunk of an encrypted file; absent for envelopes. */
  readonly chunk?: number
  readonly message: string
}> {
  constructor(args: { readonly reason: DecryptErrorReason; readonly chunk?: number }) {
    super({
      ...args,
      message: `decryption failed: ${decryptMessages[args.reason]}${
        args.chunk === undefined ? "" : ` (chunk ${args.chunk})`
      }`,
    })
  }
}

const decryptMessages: Record<DecryptErrorReason, string> = {
  WrongKeyOrTampered: "wrong key or tampered ciphertext",
  TamperedOrReordered: "a chunk was tampered with, reordered or dropped",
  Truncated: "truncated before the final chunk",
  TrailingData: "data after the final chunk",
}
