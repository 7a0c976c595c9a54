// Encrypted file format v1: libsodium crypto_secretstream_xchacha20poly1305
// over fixed-size plaintext chunks.
//
//   header (33 bytes)
//     0   4   magic "SDWF"
//     4   1   version = 1
//     5   4   plaintext chunk size C, u32 big-endian, 1 ≤ C ≤ 4 MiB (default 64 KiB)
//     9   24  secretstream header
//   records, each
//     0   4   record length L, u32 big-endian (17 ≤ L ≤ C + 17)
//     4   L   secretstream record: encrypted tag byte, ciphertext, 16-byte MAC
//
// Every record but the last holds exactly C plaintext bytes with TAG_MESSAGE;
// the last holds 0..C-1 bytes with TAG_FINAL (empty when the plaintext is a
// multiple of C, so the writer never needs to look ahead). The associated
// data of every record is header bytes 0..8 plus the caller's associated
// data, so the chunk size and version are authenticated too.
//
// secretstream chains records (nonce counter inside the state), so a moved,
// repeated or dropped record fails to authenticate; TAG_FINAL makes the end
// explicit (truncation is detected); the length prefixes make records
// self-delimiting, so bytes after the final record are told apart from a
// damaged final record.
import { Effect, Option, Redacted, Stream } from "effect"
import { type ByteTransform, emit, isFull, type Sink, transformBytes } from "./byte-transform.ts"
import { concatAll, concatBytes, startsWith } from "./bytes.ts"
import { DecryptError, InvalidEnvelope } from "./errors.ts"
import type { SecretKey } from "./keys.ts"
import { freeSecretstreamState, sodium } from "./sodium.ts"

export const FILE_MAGIC = new TextEncoder().encode("SDWF")
export const FILE_VERSION = 1
/** Plaintext bytes per record unless told otherwise. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024
/** Largest chunk size a reader accepts: bounds the memory a header can ask for. */
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024

const PREFIX_BYTES = FILE_MAGIC.length + 1 + 4
const SECRETSTREAM_HEADER_BYTES = 24
export const FILE_HEADER_BYTES = PREFIX_BYTES + SECRETSTREAM_HEADER_BYTES
/** Per-record overhead of secretstream (tag byte and MAC). */
const ABYTES = 17
const LENGTH_BYTES = 4
const RECORD_OVERHEAD = LENGTH_BYTES + ABYTES

const TAG_MESSAGE = 0
const TAG_FINAL = 3

export interface FileStreamOptions {
  /** Plaintext bytes per record, 1..MAX_CHUNK_SIZE (writer only; readers take it from the header). */
  readonly chunkSize?: number
  /** Authenticated with every record, not stored: give the same bytes to decrypt. */
  readonly associatedData?: Uint8Array
}

const isValidChunkSize = (size: number): boolean =>
  Number.isInteger(size) && size >= 1 && size <= MAX_CHUNK_SIZE

const checkChunkSize = (size: number): number => {
  if (!isValidChunkSize(size)) {
    throw new RangeError(`chunk size must be an integer in 1..${MAX_CHUNK_SIZE}, got ${size}`)
  }
  return size
}

/** Size of the encrypted file for a plaintext of `plaintextSize` bytes. */
export const encryptedFileSize = (
  plaintextSize: number,
  chunkSize: number = DEFAULT_CHUNK_SIZE,
): number =>
  FILE_HEADER_BYTES +
  plaintextSize +
  (Math.floor(plaintextSize / checkChunkSize(chunkSize)) + 1) * RECORD_OVERHEAD

/** Plaintext size of an encrypted file of `ciphertextSize` bytes; none if no plaintext has that size. */
export const decryptedFileSize = (
  ciphertextSize: number,
  chunkSize: number = DEFAULT_CHUNK_SIZE,
): Option.Option<number> => {
  const recordSize = checkChunkSize(chunkSize) + RECORD_OVERHEAD
  const body = ciphertextSize - FILE_HEADER_BYTES
  if (!Number.isSafeInteger(body) || body < RECORD_OVERHEAD) return Option.none()
  const full = Math.floor(body / recordSize)
  const last = body - full * recordSize
  return last < RECORD_OVERHEAD
    ? Option.none()
    : Option.some(full * chunkSize + last - RECORD_OVERHEAD)
}

const u32 = (value: number): Uint8Array => {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, value)
  return bytes
}

const readU32 = (bytes: Uint8Array): number =>
  new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0)

const headerPrefix = (chunkSize: number): Uint8Array =>
  concatBytes(FILE_MAGIC, Uint8Array.of(FILE_VERSION), u32(chunkSize))

const recordAd = (prefix: Uint8Array, options: FileStreamOptions | undefined): Uint8Array =>
  options?.associatedData === undefined ? prefix : concatBytes(prefix, options.associatedData)

const encryptor = (
  key: SecretKey,
  options: FileStreamOptions | undefined,
): ByteTransform<never> => {
  const chunkSize = checkChunkSize(options?.chunkSize ?? DEFAULT_CHUNK_SIZE)
  const prefix = headerPrefix(chunkSize)
  const ad = recordAd(prefix, options)
  const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(
    Redacted.value(key),
  )
  const buffer = new Uint8Array(chunkSize)
  let fill = 0
  let headerSent = false

  const sendHeader = (sink: Sink) => {
    if (headerSent) return
    headerSent = true
    emit(sink, concatBytes(prefix, header))
  }
  const seal = (sink: Sink, chunk: Uint8Array, tag: number) => {
    const record = sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, ad, tag)
    emit(sink, concatBytes(u32(record.length), record))
  }

  return {
    write: (input, start, sink) => {
      sendHeader(sink)
      let offset = start
      while (offset < input.length && !isFull(sink)) {
        if (fill === 0 && input.length - offset >= chunkSize) {
          seal(sink, input.subarray(offset, offset + chunkSize), TAG_MESSAGE)
          offset += chunkSize
          continue
        }
        const n = Math.min(chunkSize - fill, input.length - offset)
        buffer.set(input.subarray(offset, offset + n), fill)
        fill += n
        offset += n
        if (fill === chunkSize) {
          seal(sink, buffer, TAG_MESSAGE)
          fill = 0
        }
      }
      return offset
    },
    end: (sink) => {
      sendHeader(sink)
      seal(sink, buffer.subarray(0, fill), TAG_FINAL)
      return undefined
    },
    release: () => {
      buffer.fill(0)
      freeSecretstreamState(state)
    },
  }
}

const invalidFile = (reason: InvalidEnvelope["reason"], detail?: string) =>
  new InvalidEnvelope(
    detail === undefined
      ? { format: "FileStream", reason }
      : { format: "FileStream", reason, detail },
  )

/** Checks as much of a file header as `bytes` holds. */
const checkHeader = (bytes: Uint8Array): InvalidEnvelope | undefined => {
  if (!startsWith(bytes, FILE_MAGIC.subarray(0, Math.min(bytes.length, FILE_MAGIC.length)))) {
    return invalidFile("BadMagic")
  }
  if (bytes.length > 4 && bytes[4] !== FILE_VERSION) {
    return invalidFile("UnsupportedVersion", `unsupported version ${bytes[4]}`)
  }
  if (bytes.length >= PREFIX_BYTES) {
    const chunkSize = readU32(bytes.subarray(5, 9))
    if (!isValidChunkSize(chunkSize)) {
      return invalidFile("BadChunkSize", `chunk size ${chunkSize} out of range`)
    }
  }
  return undefined
}

type Phase = "Header" | "Length" | "Record" | "Done"

const decryptor = (
  key: SecretKey,
  options: FileStreamOptions | undefined,
): ByteTransform<InvalidEnvelope | DecryptError> => {
  let phase: Phase = "Header"
  let want = FILE_HEADER_BYTES
  let acc: Uint8Array = new Uint8Array(FILE_HEADER_BYTES)
  let fill = 0
  let state: ReturnType<typeof sodium.crypto_secretstream_xchacha20poly1305_init_pull> | undefined
  let ad: Uint8Array = new Uint8Array(0)
  let recordSize = 0
  let index = 0

  const damaged = () =>
    new DecryptError({
      reason: index === 0 ? "WrongKeyOrTampered" : "TamperedOrReordered",
      chunk: index,
    })

  const consume = (field: Uint8Array, sink: Sink): InvalidEnvelope | DecryptError | undefined => {
    switch (phase) {
      case "Header": {
        const invalid = checkHeader(field)
        if (invalid !== undefined) return invalid
        const chunkSize = readU32(field.subarray(5, 9))
        ad = recordAd(field.slice(0, PREFIX_BYTES), options)
        recordSize = chunkSize + ABYTES
        state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(
          field.slice(PREFIX_BYTES, FILE_HEADER_BYTES),
          Redacted.value(key),
        )
        acc = new Uint8Array(recordSize)
        phase = "Length"
        want = LENGTH_BYTES
        return undefined
      }
      case "Length": {
        const length = readU32(field)
        // A length no writer produces can only come from damage.
        if (length < ABYTES || length > recordSize) return damaged()
        phase = "Record"
        want = length
        return undefined
      }
      case "Record": {
        const opened =
          state === undefined
            ? false
            : sodium.crypto_secretstream_xchacha20poly1305_pull(state, field, ad)
        if (opened === false) return damaged()
        const isFinal = opened.tag === TAG_FINAL
        // Only full TAG_MESSAGE records and one TAG_FINAL record are valid.
        if (!isFinal && (opened.tag !== TAG_MESSAGE || field.length !== recordSize)) {
          return damaged()
        }
        emit(sink, opened.message)
        index++
        phase = isFinal ? "Done" : "Length"
        want = LENGTH_BYTES
        return undefined
      }
      case "Done":
        return new DecryptError({ reason: "TrailingData", chunk: index })
    }
  }

  return {
    write: (input, start, sink) => {
      let offset = start
      while (offset < input.length && !isFull(sink)) {
        if (phase === "Done") return new DecryptError({ reason: "TrailingData", chunk: index })
        let field: Uint8Array
        if (fill === 0 && input.length - offset >= want) {
          field = input.subarray(offset, offset + want)
          offset += want
        } else {
          const n = Math.min(want - fill, input.length - offset)
          acc.set(input.subarray(offset, offset + n), fill)
          fill += n
          offset += n
          if (fill < want) {
            // Fail early on a foreign header instead of waiting for all of it.
            const invalid = phase === "Header" ? checkHeader(acc.subarray(0, fill)) : undefined
            return invalid ?? offset
          }
          field = acc.subarray(0, want)
          fill = 0
        }
        const error = consume(field, sink)
        if (error !== undefined) return error
      }
      return offset
    },
    end: () => {
      switch (phase) {
        case "Done":
          return undefined
        case "Header":
          return checkHeader(acc.subarray(0, fill)) ?? invalidFile("TooShort")
        default:
          return new DecryptError({ reason: "Truncated", chunk: index })
      }
    },
    release: () => {
      acc.fill(0)
      if (state !== undefined) freeSecretstreamState(state)
    },
  }
}

/**
 * Encrypts a byte stream into the file format above, whatever its chunking;
 * memory stays bounded by the chunk size and the largest input chunk.
 */
export const encryptFileStream =
  (key: SecretKey, options?: FileStreamOptions) =>
  <E, R>(plaintext: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
    transformBytes(() => encryptor(key, options))(plaintext)

/**
 * Decrypts a stream made by `encryptFileStream`. Only authenticated plaintext
 * is emitted, but it is emitted as records verify: a stream that fails later
 * (`DecryptError`) has already produced a verified prefix, so write the
 * output somewhere temporary and keep it only if the stream succeeds.
 */
export const decryptFileStream =
  (key: SecretKey, options?: Pick<FileStreamOptions, "associatedData">) =>
  <E, R>(
    ciphertext: Stream.Stream<Uint8Array, E, R>,
  ): Stream.Stream<Uint8Array, E | InvalidEnvelope | DecryptError, R> =>
    transformBytes(() => decryptor(key, options))(ciphertext)

/** Encrypts bytes already in memory into the file format (same bytes as the stream). */
export const encryptFile = (
  key: SecretKey,
  plaintext: Uint8Array,
  options?: FileStreamOptions,
): Effect.Effect<Uint8Array> => collect(encryptFileStream(key, options)(Stream.succeed(plaintext)))

/** Decrypts a whole encrypted file held in memory. */
export const decryptFile = (
  key: SecretKey,
  ciphertext: Uint8Array,
  options?: Pick<FileStreamOptions, "associatedData">,
): Effect.Effect<Uint8Array, InvalidEnvelope | DecryptError> =>
  collect(decryptFileStream(key, options)(Stream.succeed(ciphertext)))

const collect = <E>(stream: Stream.Stream<Uint8Array, E>): Effect.Effect<Uint8Array, E> =>
  Effect.map(Stream.runCollect(stream), concatAll)
