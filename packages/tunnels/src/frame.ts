// Tunnel frames, version 1: the bytes of one app_call request or reply. Big-endian
// integers; layouts in README.md ("Frame format"). Decoding is total: any bytes give a
// frame or a FrameDecodeError, never a throw.
import { MAX_APP_MESSAGE_BYTES } from "@save-dweb/veilid"
import { Data, Result } from "effect"

export const FRAME_VERSION = 1
/** A frame is one app_call request or reply: at most veilid-core's limit for either. */
export const MAX_FRAME_BYTES = MAX_APP_MESSAGE_BYTES
/** Smallest frame size a caller may ask for: room for the largest header and some data. */
export const MIN_FRAME_BYTES = 256
export const SESSION_ID_BYTES = 16
export const NONCE_BYTES = 16
export const MAC_BYTES = 32
export const MAX_PROTOCOL_BYTES = 64
/** Longest window a frame can carry (u16). */
export const MAX_WINDOW = 0xffff
/** Error tags are cut to this many bytes, messages to `MAX_ERROR_MESSAGE_BYTES`. */
export const MAX_ERROR_TAG_BYTES = 64
export const MAX_ERROR_MESSAGE_BYTES = 1024

const Kind = {
  Open: 0x01,
  Data: 0x02,
  Pull: 0x03,
  Close: 0x04,
  Opened: 0x81,
  Ack: 0x82,
  Chunk: 0x83,
  Wait: 0x84,
  Refused: 0x85,
} as const

/** Header sizes: a frame's payload may take `frameSize - header` bytes. */
export const openHeaderBytes = (protocolBytes: number) => 48 + protocolBytes + MAC_BYTES
export const DATA_HEADER_BYTES = 23
export const OPENED_HEADER_BYTES = 37
export const CHUNK_HEADER_BYTES = 7
/** Where the MAC sits in an Open frame (it covers every other byte). */
export const openMacOffset = (protocolBytes: number) => 48 + protocolBytes

/** What the handler sends down a session at one sequence number. */
export type Down =
  | { readonly _tag: "Bytes"; readonly end: boolean; readonly payload: Uint8Array }
  /** The handler failed; this ends the stream. */
  | { readonly _tag: "Failure"; readonly tag: string; readonly message: string }
  /** The sequence number is past the end of the stream. */
  | { readonly _tag: "Gone" }

export type RefusalReason =
  | "Unauthorized"
  | "UnknownProtocol"
  | "UnknownSession"
  | "Busy"
  | "BadRequest"
  | "UnsupportedVersion"

const refusalCodes: ReadonlyArray<RefusalReason> = [
  "Unauthorized",
  "UnknownProtocol",
  "UnknownSession",
  "Busy",
  "BadRequest",
  "UnsupportedVersion",
]

export type CloseReason = "Done" | "Cancelled"

/** Caller → handler (app_call requests; Close is an app_message). */
export type Request =
  | {
      readonly _tag: "Open"
      /** The payload is the caller's whole input. */
      readonly end: boolean
      /** Frames the caller keeps in flight each way. */
      readonly window: number
      /** Largest reply the caller accepts (≤ 32 KiB); the handler sizes its frames by it. */
      readonly maxFrame: number
      /** Milliseconds since the Unix epoch, for the replay window. */
      readonly timestamp: number
      readonly nonce: Uint8Array
      readonly sessionId: Uint8Array
      readonly protocol: string
      /** Over every other byte of the frame and the target route id (see auth.ts). */
      readonly mac: Uint8Array
      readonly payload: Uint8Array
    }
  | {
      readonly _tag: "Data"
      readonly end: boolean
      readonly sessionId: Uint8Array
      readonly seq: number
      readonly payload: Uint8Array
    }
  | {
      readonly _tag: "Pull"
      readonly sessionId: Uint8Array
      readonly seq: number
      /** The caller holds every frame below this sequence number. */
      readonly acked: number
    }
  | { readonly _tag: "Close"; readonly sessionId: Uint8Array; readonly reason: CloseReason }

/** Handler → caller (app_call replies). */
export type Reply =
  | {
      readonly _tag: "Opened"
      /** The window the handler grants (≤ the one asked for). */
      readonly window: number
      /** MAC proving the handler holds the caller's key (see auth.ts). */
      readonly proof: Uint8Array
      /** Frame 0 of the handler's output, when it was ready at once. */
      readonly first: Down | undefined
    }
  | { readonly _tag: "Ack"; readonly seq: number }
  | { readonly _tag: "Chunk"; readonly seq: number; readonly down: Down }
  /** Not ready (no output yet, or no room for more input): ask again. */
  | { readonly _tag: "Wait"; readonly seq: number }
  | { readonly _tag: "Refused"; readonly reason: RefusalReason }

export type Frame = Request | Reply

export type FrameDecodeReason =
  | "TooShort"
  | "TooLarge"
  | "UnsupportedVersion"
  | "UnknownKind"
  | "Malformed"

export class FrameDecodeError extends Data.TaggedError("FrameDecodeError")<{
  readonly reason: FrameDecodeReason
  readonly message: string
}> {}

const utf8 = new TextEncoder()
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/** 1 to 64 bytes of printable ASCII without space, like an ALPN id ("blobs/1"). */
export const isProtocolName = (name: string): boolean =>
  name.length >= 1 && name.length <= MAX_PROTOCOL_BYTES && /^[\x21-\x7e]+$/.test(name)

/** UTF-8 bytes of `s`, cut at a character boundary to at most `max` bytes. */
export const utf8Prefix = (s: string, max: number): Uint8Array => {
  const bytes = utf8.encode(s)
  if (bytes.length <= max) return bytes
  let end = max
  // Back up over continuation bytes (10xxxxxx) so the cut is between characters.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--
  return bytes.subarray(0, end)
}

class Writer {
  readonly bytes: Uint8Array
  private readonly view: DataView
  private at = 0
  constructor(size: number) {
    if (size > MAX_FRAME_BYTES) {
      throw new RangeError(`tunnel frame of ${size} bytes exceeds ${MAX_FRAME_BYTES}`)
    }
    this.bytes = new Uint8Array(size)
    this.view = new DataView(this.bytes.buffer)
  }
  u8(n: number) {
    this.view.setUint8(this.at, n)
    this.at += 1
  }
  u16(n: number) {
    this.view.setUint16(this.at, n)
    this.at += 2
  }
  u32(n: number) {
    this.view.setUint32(this.at, n)
    this.at += 4
  }
  u64(n: number) {
    this.view.setUint32(this.at, Math.floor(n / 2 ** 32))
    this.view.setUint32(this.at + 4, n >>> 0)
    this.at += 8
  }
  raw(b: Uint8Array) {
    this.bytes.set(b, this.at)
    this.at += b.length
  }
}

const downBodyBytes = (down: Down | undefined): number => {
  if (down === undefined || down._tag === "Gone") return 0
  if (down._tag === "Bytes") return down.payload.length
  return (
    1 +
    utf8Prefix(down.tag, MAX_ERROR_TAG_BYTES).length +
    utf8Prefix(down.message, MAX_ERROR_MESSAGE_BYTES).length
  )
}

const downCode = (down: Down | undefined): number => {
  if (down === undefined) return 0
  switch (down._tag) {
    case "Bytes":
      return down.end ? 2 : 1
    case "Failure":
      return 3
    case "Gone":
      return 4
  }
}

const writeDown = (w: Writer, down: Down | undefined) => {
  w.u8(downCode(down))
  if (down === undefined || down._tag === "Gone") return
  if (down._tag === "Bytes") return w.raw(down.payload)
  const tag = utf8Prefix(down.tag, MAX_ERROR_TAG_BYTES)
  w.u8(tag.length)
  w.raw(tag)
  w.raw(utf8Prefix(down.message, MAX_ERROR_MESSAGE_BYTES))
}

/**
 * The bytes of a frame. Field values must be in range (the engine sizes payloads to fit);
 * a frame over 32 KiB is a bug and throws a RangeError.
 */
export const encodeFrame = (frame: Frame): Uint8Array => {
  switch (frame._tag) {
    case "Open": {
      const protocol = utf8.encode(frame.protocol)
      const w = new Writer(openHeaderBytes(protocol.length) + frame.payload.length)
      w.u8(FRAME_VERSION)
      w.u8(Kind.Open)
      w.u8(frame.end ? 1 : 0)
      w.u16(frame.window)
      w.u16(frame.maxFrame)
      w.u64(frame.timestamp)
      w.raw(frame.nonce)
      w.raw(frame.sessionId)
      w.u8(protocol.length)
      w.raw(protocol)
      w.raw(frame.mac)
      w.raw(frame.payload)
      return w.bytes
    }
    case "Data": {
      const w = new Writer(DATA_HEADER_BYTES + frame.payload.length)
      w.u8(FRAME_VERSION)
      w.u8(Kind.Data)
      w.u8(frame.end ? 1 : 0)
      w.raw(frame.sessionId)
      w.u32(frame.seq)
      w.raw(frame.payload)
      return w.bytes
    }
    case "Pull": {
      const w = new Writer(26)
      w.u8(FRAME_VERSION)
      w.u8(Kind.Pull)
      w.raw(frame.sessionId)
      w.u32(frame.seq)
      w.u32(frame.acked)
      return w.bytes
    }
    case "Close": {
      const w = new Writer(19)
      w.u8(FRAME_VERSION)
      w.u8(Kind.Close)
      w.raw(frame.sessionId)
      w.u8(frame.reason === "Done" ? 0 : 1)
      return w.bytes
    }
    case "Opened": {
      const w = new Writer(OPENED_HEADER_BYTES + downBodyBytes(frame.first))
      w.u8(FRAME_VERSION)
      w.u8(Kind.Opened)
      w.u16(frame.window)
      w.raw(frame.proof)
      writeDown(w, frame.first)
      return w.bytes
    }
    case "Ack":
    case "Wait": {
      const w = new Writer(6)
      w.u8(FRAME_VERSION)
      w.u8(frame._tag === "Ack" ? Kind.Ack : Kind.Wait)
      w.u32(frame.seq)
      return w.bytes
    }
    case "Chunk": {
      const w = new Writer(CHUNK_HEADER_BYTES + downBodyBytes(frame.down))
      w.u8(FRAME_VERSION)
      w.u8(Kind.Chunk)
      w.u32(frame.seq)
      writeDown(w, frame.down)
      return w.bytes
    }
    case "Refused": {
      const w = new Writer(3)
      w.u8(FRAME_VERSION)
      w.u8(Kind.Refused)
      w.u8(refusalCodes.indexOf(frame.reason) + 1)
      return w.bytes
    }
  }
}

/** Thrown inside the decoder only; decodeFrame turns it into a FrameDecodeError. */
class Bad {
  readonly reason: FrameDecodeReason
  readonly message: string
  constructor(reason: FrameDecodeReason, message: string) {
    this.reason = reason
    this.message = message
  }
}

class Reader {
  private readonly view: DataView
  readonly bytes: Uint8Array
  at = 2
  constructor(bytes: Uint8Array) {
    this.bytes = bytes
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
  need(n: number, what: string) {
    if (this.at + n > this.bytes.length) throw new Bad("TooShort", `frame ends inside ${what}`)
  }
  u8(what: string) {
    this.need(1, what)
    return this.view.getUint8(this.at++)
  }
  u16(what: string) {
    this.need(2, what)
    const n = this.view.getUint16(this.at)
    this.at += 2
    return n
  }
  u32(what: string) {
    this.need(4, what)
    const n = this.view.getUint32(this.at)
    this.at += 4
    return n
  }
  u64(what: string) {
    this.need(8, what)
    const hi = this.view.getUint32(this.at)
    const lo = this.view.getUint32(this.at + 4)
    this.at += 8
    if (hi >= 2 ** 21) throw new Bad("Malformed", `${what} is beyond 2^53`)
    return hi * 2 ** 32 + lo
  }
  take(n: number, what: string) {
    this.need(n, what)
    const b = this.bytes.slice(this.at, this.at + n)
    this.at += n
    return b
  }
  /** What is left, as a view: a payload keeps its frame's bytes (see payload-release.ts). */
  rest() {
    const b = this.bytes.subarray(this.at)
    this.at = this.bytes.length
    return b
  }
  end(what: string) {
    if (this.at !== this.bytes.length) {
      throw new Bad("Malformed", `${this.bytes.length - this.at} trailing bytes after ${what}`)
    }
  }
}

const flagEnd = (flags: number, what: string): boolean => {
  if (flags > 1) throw new Bad("Malformed", `unknown flags 0x${flags.toString(16)} in ${what}`)
  return flags === 1
}

const decodeUtf8 = (bytes: Uint8Array, what: string): string => {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    throw new Bad("Malformed", `${what} is not UTF-8`)
  }
}

const readDown = (r: Reader, allowNone: boolean, what: string): Down | undefined => {
  const code = r.u8(what)
  switch (code) {
    case 0:
      if (!allowNone) throw new Bad("Malformed", `${what} without content`)
      r.end(what)
      return undefined
    case 1:
    case 2:
      return { _tag: "Bytes", end: code === 2, payload: r.rest() }
    case 3: {
      const tagLength = r.u8(`${what} error tag length`)
      if (tagLength > MAX_ERROR_TAG_BYTES) throw new Bad("Malformed", `${what} error tag too long`)
      const tag = decodeUtf8(r.take(tagLength, `${what} error tag`), `${what} error tag`)
      const message = r.rest()
      if (message.length > MAX_ERROR_MESSAGE_BYTES) {
        throw new Bad("Malformed", `${what} error message too long`)
      }
      return { _tag: "Failure", tag, message: decodeUtf8(message, `${what} error message`) }
    }
    case 4:
      r.end(what)
      return { _tag: "Gone" }
    default:
      throw new Bad("Malformed", `unknown content code ${code} in ${what}`)
  }
}

const decodeUnsafe = (bytes: Uint8Array): Frame => {
  if (bytes.length > MAX_FRAME_BYTES) {
    throw new Bad("TooLarge", `frame of ${bytes.length} bytes exceeds ${MAX_FRAME_BYTES}`)
  }
  if (bytes.length < 2) throw new Bad("TooShort", "frame shorter than its 2-byte header")
  const version = bytes[0]
  if (version !== FRAME_VERSION) {
    throw new Bad(
      "UnsupportedVersion",
      `frame version ${version}, this build speaks ${FRAME_VERSION}`,
    )
  }
  const r = new Reader(bytes)
  const kind = bytes[1]
  switch (kind) {
    case Kind.Open: {
      const end = flagEnd(r.u8("Open flags"), "Open")
      const window = r.u16("Open window")
      if (window < 1) throw new Bad("Malformed", "Open window is 0")
      const maxFrame = r.u16("Open max frame")
      if (maxFrame < MIN_FRAME_BYTES || maxFrame > MAX_FRAME_BYTES) {
        throw new Bad(
          "Malformed",
          `Open max frame ${maxFrame} outside ${MIN_FRAME_BYTES}..${MAX_FRAME_BYTES}`,
        )
      }
      const timestamp = r.u64("Open timestamp")
      const nonce = r.take(NONCE_BYTES, "Open nonce")
      const sessionId = r.take(SESSION_ID_BYTES, "Open session id")
      const protocolLength = r.u8("Open protocol length")
      const protocol = decodeUtf8(r.take(protocolLength, "Open protocol"), "Open protocol")
      if (!isProtocolName(protocol)) throw new Bad("Malformed", "Open protocol name is invalid")
      const mac = r.take(MAC_BYTES, "Open MAC")
      const payload = r.rest()
      return {
        _tag: "Open",
        end,
        window,
        maxFrame,
        timestamp,
        nonce,
        sessionId,
        protocol,
        mac,
        payload,
      }
    }
    case Kind.Data: {
      const end = flagEnd(r.u8("Data flags"), "Data")
      const sessionId = r.take(SESSION_ID_BYTES, "Data session id")
      const seq = r.u32("Data sequence number")
      return { _tag: "Data", end, sessionId, seq, payload: r.rest() }
    }
    case Kind.Pull: {
      const sessionId = r.take(SESSION_ID_BYTES, "Pull session id")
      const seq = r.u32("Pull sequence number")
      const acked = r.u32("Pull acknowledged")
      r.end("Pull")
      return { _tag: "Pull", sessionId, seq, acked }
    }
    case Kind.Close: {
      const sessionId = r.take(SESSION_ID_BYTES, "Close session id")
      const code = r.u8("Close reason")
      if (code > 1) throw new Bad("Malformed", `unknown Close reason ${code}`)
      r.end("Close")
      return { _tag: "Close", sessionId, reason: code === 0 ? "Done" : "Cancelled" }
    }
    case Kind.Opened: {
      const window = r.u16("Opened window")
      if (window < 1) throw new Bad("Malformed", "Opened window is 0")
      const proof = r.take(MAC_BYTES, "Opened proof")
      const first = readDown(r, true, "Opened")
      return { _tag: "Opened", window, proof, first }
    }
    case Kind.Ack:
    case Kind.Wait: {
      const seq = r.u32("sequence number")
      r.end(kind === Kind.Ack ? "Ack" : "Wait")
      return { _tag: kind === Kind.Ack ? "Ack" : "Wait", seq }
    }
    case Kind.Chunk: {
      const seq = r.u32("Chunk sequence number")
      const down = readDown(r, false, "Chunk") as Down
      return { _tag: "Chunk", seq, down }
    }
    case Kind.Refused: {
      const code = r.u8("Refused reason")
      const reason = refusalCodes[code - 1]
      if (reason === undefined) throw new Bad("Malformed", `unknown refusal reason ${code}`)
      r.end("Refused")
      return { _tag: "Refused", reason }
    }
    default:
      throw new Bad("UnknownKind", `unknown frame kind 0x${(kind ?? 0).toString(16)}`)
  }
}

/** Decodes any bytes: a frame, or a typed error saying why not. Never throws. */
export const decodeFrame = (bytes: Uint8Array): Result.Result<Frame, FrameDecodeError> => {
  try {
    return Result.succeed(decodeUnsafe(bytes))
  } catch (e) {
    if (e instanceof Bad)
      return Result.fail(new FrameDecodeError({ reason: e.reason, message: e.message }))
    return Result.fail(new FrameDecodeError({ reason: "Malformed", message: String(e) }))
  }
}

const isRequestTag = (tag: Frame["_tag"]): boolean =>
  tag === "Open" || tag === "Data" || tag === "Pull" || tag === "Close"

/** Decodes bytes that must be a request (what a handler receives). */
export const decodeRequest = (bytes: Uint8Array): Result.Result<Request, FrameDecodeError> =>
  Result.flatMap(decodeFrame(bytes), (frame) =>
    isRequestTag(frame._tag)
      ? Result.succeed(frame as Request)
      : Result.fail(
          new FrameDecodeError({
            reason: "UnknownKind",
            message: `${frame._tag} is not a request`,
          }),
        ),
  )

/** Decodes bytes that must be a reply (what a caller receives). */
export const decodeReply = (bytes: Uint8Array): Result.Result<Reply, FrameDecodeError> =>
  Result.flatMap(decodeFrame(bytes), (frame) =>
    isRequestTag(frame._tag)
      ? Result.fail(
          new FrameDecodeError({ reason: "UnknownKind", message: `${frame._tag} is not a reply` }),
        )
      : Result.succeed(frame as Reply),
  )
