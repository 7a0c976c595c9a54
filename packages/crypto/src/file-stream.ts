// Encrypted file formats. Both share a 33-byte header and length-prefixed
// records over fixed-size plaintext chunks:
//
//   header (33 bytes)
//     0   4   magic "SDWF"
//     4   1   version: 1 or 2 (written: 2)
//     5   4   plaintext chunk size C, u32 big-endian, 1 ≤ C ≤ 4 MiB (default 64 KiB)
//     9   24  v1: secretstream header; v2: random nonce N
//   records, each
//     0   4   record length L, u32 big-endian (v1: 17 ≤ L ≤ C + 17; v2: 16 ≤ L ≤ C + 16)
//     4   L   v1: secretstream record (encrypted tag byte, ciphertext, 16-byte MAC)
//             v2: ChaCha20-Poly1305 ciphertext, then its 16-byte tag
//
// Every record but the last holds exactly C plaintext bytes; the last holds
// 0..C-1 bytes (empty when the plaintext is a multiple of C, so the writer
// never needs to look ahead). The associated data of every record is header
// bytes 0..8 plus the caller's associated data, so the chunk size and version
// are authenticated too.
//
// v1 is libsodium's crypto_secretstream_xchacha20poly1305 (TAG_MESSAGE, then
// TAG_FINAL on the last record); its state chains the records.
//
// v2 is XChaCha20-Poly1305 with a counter, sealed by node:crypto: subkey
// K' = HChaCha20(K, N[0..16]); record i is ChaCha20-Poly1305 (RFC 8439) under
// K' with the 12-byte nonce  F || 0 || 0 || 0 || (N[16..24] XOR u64le(i)),
// F = 1 on the last record and 0 on every other. Record 0 of a longer file is
// thus exactly XChaCha20-Poly1305(K, N) of its chunk. The index in the nonce
// makes a moved, repeated or dropped record fail, the flag makes truncation at
// a record boundary fail, and the length tells which record claims to be last
// (only the last is shorter than C + 16), so no record is tried twice.
//
// In both, the length prefixes make records self-delimiting, so bytes after
// the final record are told apart from a damaged final record.
import { Effect, Option, Redacted, Stream } from "effect"
import { type ByteTransform, emit, isFull, type Sink, transformBytes } from "./byte-transform.ts"
import { concatAll, concatBytes, startsWith } from "./bytes.ts"
import * as aead from "./chacha20-poly1305.ts"
import { DecryptError, InvalidEnvelope } from "./errors.ts"
import type { SecretKey } from "./keys.ts"
import { freeSecretstreamState, sodium } from "./sodium.ts"

// Typed here: inferred, the declaration would name @types/node's NodeJS.NonSharedUint8Array.
export const FILE_MAGIC: Uint8Array<ArrayBuffer> = new TextEncoder().encode("SDWF")
/** The versions of the file format: 1 (libsodium secretstream), 2 (native ChaCha20-Poly1305). */
export type FileFormatVersion = 1 | 2
/** The version `encryptFileStream` writes unless told otherwise. */
export const FILE_VERSION: FileFormatVersion = 2
/** Plaintext bytes per record unless told otherwise. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024
/** Largest chunk size a reader accepts: bounds the memory a header can ask for. */
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024

const PREFIX_BYTES = FILE_MAGIC.length + 1 + 4
const HEADER_TAIL_BYTES = 24
export const FILE_HEADER_BYTES = PREFIX_BYTES + HEADER_TAIL_BYTES
const LENGTH_BYTES = 4

/** Bytes a record adds to its plaintext, length prefix excluded: v1 tag byte and MAC, v2 tag. */
const sealOverhead = (version: FileFormatVersion): number => (version === 1 ? 17 : aead.TAG_BYTES)
const recordOverhead = (version: FileFormatVersion): number => LENGTH_BYTES + sealOverhead(version)

const isVersion = (value: unknown): value is FileFormatVersion => value === 1 || value === 2

// secretstream tags (v1)
const TAG_MESSAGE = 0
const TAG_FINAL = 3

export interface FileStreamOptions {
  /** Plaintext bytes per record, 1..MAX_CHUNK_SIZE (writer only; readers take it from the header). */
  readonly chunkSize?: number
  /** Authenticated with every record, not stored: give the same bytes to decrypt. */
  readonly associatedData?: Uint8Array
  /**
   * Format to write (writer only; readers take it from the header). 2, the
   * default, needs node:crypto's chacha20-poly1305; 1 needs only libsodium.
   */
  readonly version?: FileFormatVersion
}

/** Options of `decryptFileStream`. */
export interface DecryptOptions extends Pick<FileStreamOptions, "associatedData"> {
  /**
   * The index of the first record in the input (default 0): the input is then the
   * file's header followed by its bytes from `recordOffset(layout, firstRecord)` on, so a
   * reader can start at the record that holds a byte instead of at the start. Version 2
   * only (v1 records chain); a v1 header with a later first record is `NotSeekable`.
   */
  readonly firstRecord?: number
}

/** What a file's header says about where its records lie. */
export interface FileLayout {
  readonly version: FileFormatVersion
  /** Plaintext bytes per record (every record but the last holds exactly this many). */
  readonly chunkSize: number
  /** Bytes of one full record, length prefix included. */
  readonly recordBytes: number
}

/** The layout a file's first `FILE_HEADER_BYTES` bytes give, or why they are not a header. */
export const readFileLayout = (header: Uint8Array): FileLayout | InvalidEnvelope => {
  if (header.length < FILE_HEADER_BYTES) return invalidFile("TooShort")
  const invalid = checkHeader(header)
  if (invalid !== undefined) return invalid
  const version = header[4] as FileFormatVersion
  const chunkSize = readU32(header.subarray(5, 9))
  return { version, chunkSize, recordBytes: chunkSize + recordOverhead(version) }
}

/** The record holding plaintext byte `offset`. */
export const recordOfOffset = (layout: FileLayout, offset: number): number =>
  Math.floor(offset / layout.chunkSize)

/** Where record `index` starts in the encrypted file. */
export const recordOffset = (layout: FileLayout, index: number): number =>
  FILE_HEADER_BYTES + index * layout.recordBytes

const isValidChunkSize = (size: number): boolean =>
  Number.isInteger(size) && size >= 1 && size <= MAX_CHUNK_SIZE

const checkChunkSize = (size: number): number => {
  if (!isValidChunkSize(size)) {
    throw new RangeError(`chunk size must be an integer in 1..${MAX_CHUNK_SIZE}, got ${size}`)
  }
  return size
}

const checkVersion = (version: number): FileFormatVersion => {
  if (!isVersion(version))
    throw new RangeError(`file format version must be 1 or 2, got ${version}`)
  return version
}

/** Size of the encrypted file for a plaintext of `plaintextSize` bytes. */
export const encryptedFileSize = (
  plaintextSize: number,
  chunkSize: number = DEFAULT_CHUNK_SIZE,
  version: FileFormatVersion = FILE_VERSION,
): number =>
  FILE_HEADER_BYTES +
  plaintextSize +
  (Math.floor(plaintextSize / checkChunkSize(chunkSize)) + 1) *
    recordOverhead(checkVersion(version))

/** Plaintext size of an encrypted file of `ciphertextSize` bytes; none if no plaintext has that size. */
export const decryptedFileSize = (
  ciphertextSize: number,
  chunkSize: number = DEFAULT_CHUNK_SIZE,
  version: FileFormatVersion = FILE_VERSION,
): Option.Option<number> => {
  const overhead = recordOverhead(checkVersion(version))
  const recordSize = checkChunkSize(chunkSize) + overhead
  const body = ciphertextSize - FILE_HEADER_BYTES
  if (!Number.isSafeInteger(body) || body < overhead) return Option.none()
  const full = Math.floor(body / recordSize)
  const last = body - full * recordSize
  return last < overhead ? Option.none() : Option.some(full * chunkSize + last - overhead)
}

const u32 = (value: number): Uint8Array => {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, value)
  return bytes
}

const readU32 = (bytes: Uint8Array): number =>
  new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0)

const headerPrefix = (version: FileFormatVersion, chunkSize: number): Uint8Array =>
  concatBytes(FILE_MAGIC, Uint8Array.of(version), u32(chunkSize))

const recordAd = (prefix: Uint8Array, options: FileStreamOptions | undefined): Uint8Array =>
  options?.associatedData === undefined ? prefix : concatBytes(prefix, options.associatedData)

/** One version's cipher over records, in the order they come. */
interface RecordSealer {
  /** Header bytes 9..33. */
  readonly headerTail: Uint8Array
  /** The record for the next chunk, length prefix included, in one or more pieces. */
  readonly seal: (chunk: Uint8Array, final: boolean) => ReadonlyArray<Uint8Array>
  readonly release: () => void
}

interface RecordOpener {
  /**
   * Opens the next record (length prefix excluded); `full` says it is as long
   * as a non-final record. Undefined if it does not authenticate.
   */
  readonly open: (
    record: Uint8Array,
    full: boolean,
  ) => { readonly message: Uint8Array; readonly final: boolean } | undefined
  readonly release: () => void
}

const secretstreamSealer = (rawKey: Uint8Array, ad: Uint8Array): RecordSealer => {
  const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(rawKey)
  return {
    headerTail: header,
    seal: (chunk, final) => {
      const record = sodium.crypto_secretstream_xchacha20poly1305_push(
        state,
        chunk,
        ad,
        final ? TAG_FINAL : TAG_MESSAGE,
      )
      return [concatBytes(u32(record.length), record)]
    },
    release: () => freeSecretstreamState(state),
  }
}

const secretstreamOpener = (
  rawKey: Uint8Array,
  headerTail: Uint8Array,
  ad: Uint8Array,
): RecordOpener => {
  const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(headerTail, rawKey)
  return {
    open: (record, full) => {
      const opened = sodium.crypto_secretstream_xchacha20poly1305_pull(state, record, ad)
      if (opened === false) return undefined
      const final = opened.tag === TAG_FINAL
      // Only full TAG_MESSAGE records and one TAG_FINAL record are valid.
      if (!final && (opened.tag !== TAG_MESSAGE || !full)) return undefined
      return { message: opened.message, final }
    },
    release: () => freeSecretstreamState(state),
  }
}

/**
 * The v2 record nonces of a file with nonce `n`:
 * F || 0 0 0 || (n[16..24] XOR u64le(index)), F = 1 on the last record.
 */
export const recordNonces = (n: Uint8Array) => {
  const base = new DataView(n.buffer, n.byteOffset + aead.HCHACHA20_INPUT_BYTES, 8)
  const lo = base.getUint32(0, true)
  const hi = base.getUint32(4, true)
  const nonce = new Uint8Array(aead.NONCE_BYTES)
  const view = new DataView(nonce.buffer)
  return (index: number, final: boolean): Uint8Array => {
    nonce[0] = final ? 1 : 0
    view.setUint32(4, (lo ^ index) >>> 0, true)
    view.setUint32(8, (hi ^ Math.floor(index / 2 ** 32)) >>> 0, true)
    return nonce
  }
}

const v2Subkey = (rawKey: Uint8Array, n: Uint8Array) => {
  const bytes = aead.hchacha20(rawKey, n.subarray(0, aead.HCHACHA20_INPUT_BYTES))
  const key = aead.importKey(bytes)
  bytes.fill(0)
  return key
}

const nativeSealer = (rawKey: Uint8Array, ad: Uint8Array): RecordSealer => {
  const n = sodium.randombytes_buf(HEADER_TAIL_BYTES)
  const subkey = v2Subkey(rawKey, n)
  const nonceOf = recordNonces(n)
  let index = 0
  return {
    headerTail: n,
    // Three pieces rather than one joined copy: a 64 KiB copy and allocation
    // per record cost more than the consumer's extra iovecs or its own join.
    seal: (chunk, final) => {
      const { ciphertext, tag } = aead.seal(subkey, nonceOf(index++, final), chunk, ad)
      return [u32(ciphertext.length + tag.length), ciphertext, tag]
    },
    release: () => undefined,
  }
}

const nativeOpener = (
  rawKey: Uint8Array,
  n: Uint8Array,
  ad: Uint8Array,
  firstRecord: number,
): RecordOpener => {
  const subkey = v2Subkey(rawKey, n)
  const nonceOf = recordNonces(n)
  let index = firstRecord
  return {
    open: (record, full) => {
      const split = record.length - aead.TAG_BYTES
      const message = aead.open(
        subkey,
        nonceOf(index, !full),
        record.subarray(0, split),
        record.subarray(split),
        ad,
      )
      if (message === undefined) return undefined
      index++
      return { message, final: !full }
    },
    release: () => undefined,
  }
}

const encryptor = (
  key: SecretKey,
  options: FileStreamOptions | undefined,
): ByteTransform<never> => {
  const chunkSize = checkChunkSize(options?.chunkSize ?? DEFAULT_CHUNK_SIZE)
  const version = checkVersion(options?.version ?? FILE_VERSION)
  const prefix = headerPrefix(version, chunkSize)
  const ad = recordAd(prefix, options)
  const sealer =
    version === 1
      ? secretstreamSealer(Redacted.value(key), ad)
      : nativeSealer(Redacted.value(key), ad)
  const buffer = new Uint8Array(chunkSize)
  let fill = 0
  let headerSent = false

  const sendHeader = (sink: Sink) => {
    if (headerSent) return
    headerSent = true
    emit(sink, concatBytes(prefix, sealer.headerTail))
  }
  const seal = (sink: Sink, chunk: Uint8Array, final: boolean) => {
    for (const piece of sealer.seal(chunk, final)) emit(sink, piece)
  }

  return {
    write: (input, start, sink) => {
      sendHeader(sink)
      let offset = start
      while (offset < input.length && !isFull(sink)) {
        if (fill === 0 && input.length - offset >= chunkSize) {
          seal(sink, input.subarray(offset, offset + chunkSize), false)
          offset += chunkSize
          continue
        }
        const n = Math.min(chunkSize - fill, input.length - offset)
        buffer.set(input.subarray(offset, offset + n), fill)
        fill += n
        offset += n
        if (fill === chunkSize) {
          seal(sink, buffer, false)
          fill = 0
        }
      }
      return offset
    },
    end: (sink) => {
      sendHeader(sink)
      seal(sink, buffer.subarray(0, fill), true)
      return undefined
    },
    release: () => {
      buffer.fill(0)
      sealer.release()
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
  if (bytes.length > 4 && !isVersion(bytes[4])) {
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
  options: DecryptOptions | undefined,
): ByteTransform<InvalidEnvelope | DecryptError> => {
  const firstRecord = options?.firstRecord ?? 0
  if (!Number.isSafeInteger(firstRecord) || firstRecord < 0) {
    throw new RangeError(`firstRecord must be a non-negative integer, got ${firstRecord}`)
  }
  let phase: Phase = "Header"
  let want = FILE_HEADER_BYTES
  let acc: Uint8Array = new Uint8Array(FILE_HEADER_BYTES)
  let fill = 0
  let opener: RecordOpener | undefined
  let overhead = 0
  let recordSize = 0
  let index = firstRecord

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
        const version = field[4] as FileFormatVersion
        const chunkSize = readU32(field.subarray(5, 9))
        const ad = recordAd(field.slice(0, PREFIX_BYTES), options)
        const tail = field.slice(PREFIX_BYTES, FILE_HEADER_BYTES)
        if (version === 1 && firstRecord > 0) {
          return invalidFile("NotSeekable", "a version 1 file can only be read from its start")
        }
        overhead = sealOverhead(version)
        recordSize = chunkSize + overhead
        opener =
          version === 1
            ? secretstreamOpener(Redacted.value(key), tail, ad)
            : nativeOpener(Redacted.value(key), tail, ad, firstRecord)
        acc = new Uint8Array(recordSize)
        phase = "Length"
        want = LENGTH_BYTES
        return undefined
      }
      case "Length": {
        const length = readU32(field)
        // A length no writer produces can only come from damage.
        if (length < overhead || length > recordSize) return damaged()
        phase = "Record"
        want = length
        return undefined
      }
      case "Record": {
        const opened = opener?.open(field, field.length === recordSize)
        if (opened === undefined) return damaged()
        emit(sink, opened.message)
        index++
        phase = opened.final ? "Done" : "Length"
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
      opener?.release()
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
 *
 * It is done with each input chunk before it pulls the next and keeps no view of
 * it (what it holds between chunks it copies, and what it emits is fresh), so the
 * ciphertext may be read into one buffer over and over.
 */
export const decryptFileStream =
  (key: SecretKey, options?: DecryptOptions) =>
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
