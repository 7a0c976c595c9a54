// The fetching half of the tunnel transport: sources made of tunnel peers, the stream of a
// blob's bytes from one (checked against the header, hashed by the caller), and the
// "who has it" query.
import type { SecretKey } from "@save-dweb/crypto"
import {
  type CallError,
  type InvalidRouteBlob,
  type Peer,
  type ResponseTooLarge,
  Tunnels,
} from "@save-dweb/tunnels"
import { Effect, Result, Stream } from "effect"
import {
  MAX_BLOB_BYTES,
  NotFoundAtSource,
  SourceError,
  type SourceFailure,
  SourceUnreachable,
  UnexpectedSize,
} from "./errors.ts"
import type { BlobHash } from "./hash.ts"
import type { TunnelSource } from "./source.ts"
import {
  BLOBS_PROTOCOL,
  type BlobResponse,
  decodeResponse,
  encodeRequest,
  HEADER_PREFIX_BYTES,
  MAX_HAS_HASHES,
  MAX_HEADER_BYTES,
} from "./tunnel-protocol.ts"

export interface TunnelSourceOptions {
  /** Names the source in progress and errors. Default `tunnel:<route id>`. */
  readonly id?: string
  /** Default `save-dweb/blobs/1`: what `serveBlobs` serves unless told otherwise. */
  readonly protocol?: string
}

/** A fetch source from a peer already connected with `Tunnels.connect`. */
export const tunnelSource = (peer: Peer, options: TunnelSourceOptions = {}): TunnelSource => ({
  _tag: "TunnelSource",
  id: options.id ?? `tunnel:${peer.routeId}`,
  peer,
  protocol: options.protocol ?? BLOBS_PROTOCOL,
})

/** Imports a peer's route blob (as published in its group record) and makes it a source. */
export const connectTunnelSource = (
  route: Uint8Array,
  key: SecretKey,
  options: TunnelSourceOptions = {},
): Effect.Effect<TunnelSource, InvalidRouteBlob, Tunnels> =>
  Effect.gen(function* () {
    const tunnels = yield* Tunnels
    return tunnelSource(yield* tunnels.connect(route, key), options)
  }).pipe(Effect.withSpan("BlobStore.connectTunnelSource"))

/** What a failed tunnel call means for the fetch. */
export const callFailure =
  (source: string, hash?: BlobHash) =>
  (error: CallError | ResponseTooLarge): SourceFailure => {
    switch (error._tag) {
      case "PeerUnreachable":
        return new SourceUnreachable({ source, reason: error.message })
      case "RemoteError":
        // The blob went away between the header and its bytes.
        if (error.tag === "BlobNotFound" && hash !== undefined)
          return new NotFoundAtSource({ source, hash })
        return new SourceError({ source, reason: `${error.tag}: ${error.message}` })
      default:
        return new SourceError({ source, reason: `${error._tag}: ${error.message}` })
    }
  }

/** Collects the length-prefixed header from the first chunks of a response. */
export class HeaderReader {
  private parts: Array<Uint8Array> = []
  private size = 0

  /** The header and the bytes after it, `undefined` until complete, or why it is broken. */
  push(
    chunk: Uint8Array,
  ): { readonly header: BlobResponse; readonly rest: Uint8Array } | string | undefined {
    this.parts.push(chunk)
    this.size += chunk.length
    if (this.size < HEADER_PREFIX_BYTES) return undefined
    const all = Buffer.concat(this.parts, this.size)
    const length = all.readUInt32BE(0)
    if (length > MAX_HEADER_BYTES) return `a response header of ${length} bytes`
    if (this.size < HEADER_PREFIX_BYTES + length) {
      this.parts = [all]
      return undefined
    }
    const end = HEADER_PREFIX_BYTES + length
    const header = decodeResponse(all.subarray(HEADER_PREFIX_BYTES, end))
    if (Result.isFailure(header)) return `a response header that does not decode: ${header.failure}`
    return { header: header.success, rest: all.subarray(end) }
  }
}

/**
 * A whole blob's bytes from a tunnel peer, exactly as many as its header announced (told
 * to `onSize` once known), or with `range` only those bytes of it. Not verified here: the
 * store hashes them before adding them. A header announcing another size than
 * `expectedSize`, or over `MAX_BLOB_BYTES`, or another range than asked, fails before any
 * byte of the body is passed on (`UnexpectedSize`, `SourceError`).
 */
export const openTunnelBlob = (
  source: TunnelSource,
  hash: BlobHash,
  onSize: (size: number) => void,
  expectedSize?: number,
  range?: BlobRange,
): Stream.Stream<Uint8Array, SourceFailure> =>
  source.peer
    .open(source.protocol, Stream.succeed(encodeRequest({ _tag: "Get", hash, ...range })))
    .pipe(
      Stream.mapError(callFailure(source.id, hash)),
      blobResponseBody(source.id, hash, onSize, expectedSize, range),
    )

export interface BlobRange {
  readonly offset: number
  readonly length: number
}

/**
 * The body of a response to a `Get` (the blobs protocol's answer: a length-prefixed
 * header, then the bytes), from whatever carries it (a tunnel call, an Iroh stream),
 * checked as `openTunnelBlob` says.
 */
export const blobResponseBody =
  (
    sourceId: string,
    hash: BlobHash,
    onSize: (size: number) => void,
    expectedSize?: number,
    range?: BlobRange,
  ) =>
  (response: Stream.Stream<Uint8Array, SourceFailure>): Stream.Stream<Uint8Array, SourceFailure> =>
    Stream.suspend(() => {
      const reader = new HeaderReader()
      let expected: number | undefined
      let received = 0
      const broken = (reason: string) => Effect.fail(new SourceError({ source: sourceId, reason }))

      const body = (chunk: Uint8Array, total: number) => {
        received += chunk.length
        if (received > total) return broken(`sent more than the ${total} bytes it announced`)
        return Effect.succeed(chunk.length === 0 ? [] : [chunk])
      }
      const step = (chunk: Uint8Array): Effect.Effect<ReadonlyArray<Uint8Array>, SourceFailure> => {
        if (expected !== undefined) return body(chunk, expected)
        const read = reader.push(chunk)
        if (read === undefined) return Effect.succeed([])
        if (typeof read === "string") return broken(read)
        const { header, rest } = read
        switch (header._tag) {
          case "Found":
            if (
              header.offset !== (range?.offset ?? 0) ||
              header.length !== (range?.length ?? header.size)
            )
              return broken(
                `answered a range (${header.offset}+${header.length}) to a request for ${range === undefined ? "the whole blob" : `${range.offset}+${range.length}`}`,
              )
            if (
              header.size > MAX_BLOB_BYTES ||
              (expectedSize !== undefined && header.size !== expectedSize)
            )
              return Effect.fail(
                new UnexpectedSize({
                  source: sourceId,
                  hash,
                  announced: header.size,
                  expected: expectedSize,
                }),
              )
            expected = header.length
            onSize(header.size)
            return body(rest, header.length)
          case "NotFound":
            return Effect.fail(new NotFoundAtSource({ source: sourceId, hash }))
          default:
            return broken(`answered ${header._tag} to a request for a blob`)
        }
      }
      const end = Effect.suspend(() => {
        if (expected === undefined) return broken("ended before its header")
        if (received < expected) return broken(`ended after ${received} of ${expected} bytes`)
        return Effect.void
      })

      return response.pipe(
        Stream.mapEffect(step),
        Stream.flattenIterable,
        Stream.concat(Stream.drain(Stream.fromEffect(end))),
      )
    })

/** Which of `hashes` the peer holds, complete (asked in batches of 1024). */
export const askHas = Effect.fn("BlobStore.askHas")(function* (
  source: TunnelSource,
  hashes: ReadonlyArray<BlobHash>,
) {
  const asked = new Set(hashes)
  const unique = [...asked]
  const held: Array<BlobHash> = []
  for (let i = 0; i < unique.length; i += MAX_HAS_HASHES) {
    const reply = yield* source.peer
      .request(
        source.protocol,
        encodeRequest({ _tag: "Has", hashes: unique.slice(i, i + MAX_HAS_HASHES) }),
        { maxResponseBytes: HEADER_PREFIX_BYTES + MAX_HEADER_BYTES },
      )
      .pipe(Effect.mapError(callFailure(source.id)))
    const read = new HeaderReader().push(reply)
    const header = typeof read === "object" && read.rest.length === 0 ? read.header : undefined
    if (header?._tag !== "Have")
      return yield* new SourceError({
        source: source.id,
        reason: `answered ${header?._tag ?? (typeof read === "string" ? read : "a truncated header")} to Has`,
      })
    // A peer cannot make us believe it holds what we did not ask about.
    for (const hash of header.hashes) if (asked.has(hash)) held.push(hash)
  }
  return held
})

/**
 * The sources that hold `hash`, asked in parallel. A source that fails or does not answer
 * within `timeoutMillis` (default 10 s) is left out.
 */
export const whoHas = (
  sources: ReadonlyArray<TunnelSource>,
  hash: BlobHash,
  options: { readonly timeoutMillis?: number } = {},
): Effect.Effect<ReadonlyArray<TunnelSource>> =>
  Effect.forEach(
    sources,
    (source) =>
      askHas(source, [hash]).pipe(
        Effect.timeoutOption(options.timeoutMillis ?? 10_000),
        Effect.map((held) => (held._tag === "Some" && held.value.includes(hash) ? [source] : [])),
        Effect.orElseSucceed(() => []),
      ),
    { concurrency: "unbounded" },
  ).pipe(
    Effect.map((found) => found.flat()),
    Effect.withSpan("BlobStore.whoHas"),
  )
