// A subkey's value on the DHT: Schema-encode → CBOR → crypto envelope v1 sealed
// under the caller's key, with associated data that names the record and the
// subkey, so a value copied into another record or slot does not open.
import { openEnvelope, type SecretKey, sealEnvelope } from "@save-dweb/crypto"
import { MAX_RECORD_BYTES, MAX_SUBKEY_BYTES } from "@save-dweb/veilid"
import { Encoder } from "cbor-x"
import { Effect, Result, Schema } from "effect"
import { CborMalformed, checkCbor } from "./cbor-check.ts"
import type { SubkeySchema } from "./definition.ts"
import { RecordDecryptFailed, RecordInvalid, RecordTooLarge } from "./errors.ts"
import type { RecordKey } from "./types.ts"

// veilid-core's MAX_SUBKEY_SIZE and MAX_RECORD_DATA_SIZE, as the facade states them.
export const MAX_SUBKEY_SIZE = MAX_SUBKEY_BYTES
export const MAX_RECORD_DATA_SIZE = MAX_RECORD_BYTES

/**
 * Largest value a subkey of a record with `subkeyCount` subkeys takes: veilid-core
 * checks `min(MAX_SUBKEY_SIZE, MAX_RECORD_DATA_SIZE / subkeyCount)` for DFLT (owner
 * subkeys) and SMPL (all subkeys) alike (`check_subkey_value_data_*`).
 */
export const maxSealedSize = (subkeyCount: number): number =>
  Math.min(MAX_SUBKEY_SIZE, Math.floor(MAX_RECORD_DATA_SIZE / Math.max(1, subkeyCount)))

const cbor = new Encoder({
  // Plain CBOR: no cbor-x record extension (tag 105), maps decode to objects,
  // byte arrays as CBOR byte strings without a typed-array tag, floats as given.
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  tagUint8Array: false,
  bundleStrings: false,
  pack: false,
})
// cbor-x's size limits (`setSizeLimits`; its 1.6.0 types call it `setMaxLimits`, which
// does not exist at runtime) are process-wide, and `checkCbor` already keeps every length
// within the input, far below them: they are left alone.

const AD_PREFIX = new TextEncoder().encode("save-dweb/dht-records/v1\0")

/**
 * The record key without Veilid's `:<encryption key>` suffix: `VLD0:<opaque>`. Values
 * are bound to this, so every spelling of the key opens them.
 */
export const opaqueKey = (key: RecordKey): string => key.split(":").slice(0, 2).join(":")

/** `"save-dweb/dht-records/v1\0" || UTF-8(opaque record key) || 0x00 || u32 BE subkey`. */
export const associatedData = (key: RecordKey, subkey: number): Uint8Array => {
  const name = new TextEncoder().encode(opaqueKey(key))
  const out = new Uint8Array(AD_PREFIX.length + name.length + 5)
  out.set(AD_PREFIX, 0)
  out.set(name, AD_PREFIX.length)
  new DataView(out.buffer).setUint32(AD_PREFIX.length + name.length + 1, subkey)
  return out
}

/** CBOR of a value already encoded by its Schema. */
export const encodeCbor = (encoded: unknown): Uint8Array => {
  const bytes = cbor.encode(encoded)
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

// cbor-x decodes byte strings as Node Buffers (views into the input): hand out plain
// Uint8Arrays, as the rest of the project uses.
const plainBytes = (value: unknown): unknown => {
  if (value instanceof Uint8Array) {
    return Buffer.isBuffer(value)
      ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
      : value
  }
  if (Array.isArray(value)) return value.map(plainBytes)
  if (value instanceof Map) {
    return new Map([...value].map(([k, v]) => [plainBytes(k), plainBytes(v)] as const))
  }
  const prototype =
    typeof value === "object" && value !== null ? Object.getPrototypeOf(value) : undefined
  if (prototype === Object.prototype || prototype === null) {
    return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, plainBytes(v)]))
  }
  return value
}

/**
 * Decodes CBOR; bytes that `checkCbor` refuses never reach cbor-x (they throw its
 * `CborMalformed`, as cbor-x throws for what it cannot read).
 */
export const decodeCbor = (bytes: Uint8Array): unknown => {
  const checked = checkCbor(bytes)
  if (Result.isFailure(checked)) throw checked.failure
  return plainBytes(cbor.decode(bytes))
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** Encodes, seals and checks the size limit; the bytes to hand to Veilid. */
export const sealValue = Effect.fnUntraced(function* (
  schema: SubkeySchema,
  value: unknown,
  context: {
    readonly key: RecordKey
    readonly subkey: number
    readonly encryptionKey: SecretKey
    readonly limit: number
  },
) {
  const { key, subkey } = context
  const encoded = yield* Schema.encodeUnknownEffect(schema)(value).pipe(
    Effect.mapError(
      (error) =>
        new RecordInvalid({
          key,
          subkey,
          reason: "Schema",
          message: `value for subkey ${subkey} does not match its Schema: ${error.message}`,
        }),
    ),
  )
  const plaintext = yield* Effect.try({
    try: () => encodeCbor(encoded),
    catch: (error) =>
      new RecordInvalid({
        key,
        subkey,
        reason: "Cbor",
        message: `value for subkey ${subkey} cannot be CBOR-encoded: ${describe(error)}`,
      }),
  })
  // Never write what readers refuse (nesting over the limit, a huge bignum...).
  const checked = checkCbor(plaintext)
  if (Result.isFailure(checked)) {
    return yield* new RecordInvalid({
      key,
      subkey,
      reason: "Cbor",
      message: `value for subkey ${subkey} encodes to CBOR readers refuse: ${checked.failure.message}`,
    })
  }
  const sealed = yield* sealEnvelope(context.encryptionKey, plaintext, {
    associatedData: associatedData(key, subkey),
  })
  if (sealed.length > context.limit) {
    return yield* new RecordTooLarge({
      key,
      subkey,
      size: sealed.length,
      limit: context.limit,
      message: `sealed value for subkey ${subkey} is ${sealed.length} bytes; this record takes at most ${context.limit}`,
    })
  }
  return sealed
})

/** Opens and decodes a value read from the DHT. */
export const openValue = Effect.fnUntraced(function* (
  schema: SubkeySchema,
  sealed: Uint8Array,
  context: { readonly key: RecordKey; readonly subkey: number; readonly encryptionKey: SecretKey },
) {
  const { key, subkey } = context
  const plaintext = yield* openEnvelope(context.encryptionKey, sealed, {
    associatedData: associatedData(key, subkey),
  }).pipe(
    Effect.mapError((error) =>
      error._tag === "DecryptError"
        ? new RecordDecryptFailed({
            key,
            subkey,
            reason: "WrongKeyOrTampered",
            message: `value of subkey ${subkey} does not open: wrong key, or it was sealed for another record or subkey`,
          })
        : new RecordDecryptFailed({
            key,
            subkey,
            reason: "NotAnEnvelope",
            message: `value of subkey ${subkey} is not a sealed envelope (${error.reason})`,
          }),
    ),
  )
  const decoded = yield* Effect.try({
    try: () => decodeCbor(plaintext),
    catch: (error) =>
      new RecordInvalid({
        key,
        subkey,
        reason: "Cbor",
        message:
          error instanceof CborMalformed
            ? `value of subkey ${subkey} is not well-formed CBOR: ${error.message}`
            : `value of subkey ${subkey} is not CBOR: ${describe(error)}`,
      }),
  })
  return yield* Schema.decodeUnknownEffect(schema)(decoded).pipe(
    Effect.mapError(
      (error) =>
        new RecordInvalid({
          key,
          subkey,
          reason: "Schema",
          message: `value of subkey ${subkey} does not match its Schema: ${error.message}`,
        }),
    ),
  )
})
