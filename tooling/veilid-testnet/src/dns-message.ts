// DNS wire format (RFC 1035), only as much as a TXT-only authoritative server
// needs: messages are decoded in full (names with compression pointers), and
// encoded without compression.
//
// Names are text in master-file form: labels joined by ".", with "." "\" and
// bytes outside printable ASCII escaped as "\." "\\" "\DDD", so any label
// survives a decode/encode round trip. The root name is "".
import { Data, Result } from "effect"

export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  ANY: 255,
} as const

export const DnsClass = { IN: 1 } as const

export const DnsRcode = {
  NoError: 0,
  FormErr: 1,
  ServFail: 2,
  NXDomain: 3,
  NotImp: 4,
  Refused: 5,
} as const

export interface DnsQuestion {
  readonly name: string
  readonly type: number
  readonly class: number
}

export interface DnsResourceRecord {
  readonly name: string
  readonly type: number
  readonly class: number
  readonly ttl: number
  readonly data: Uint8Array
}

export interface DnsMessage {
  readonly id: number
  readonly qr: boolean
  readonly opcode: number
  readonly aa: boolean
  readonly tc: boolean
  readonly rd: boolean
  readonly ra: boolean
  /** The 3 bits between RA and RCODE (Z, AD, CD), kept as they came. */
  readonly z: number
  readonly rcode: number
  readonly questions: ReadonlyArray<DnsQuestion>
  readonly answers: ReadonlyArray<DnsResourceRecord>
  readonly authorities: ReadonlyArray<DnsResourceRecord>
  readonly additionals: ReadonlyArray<DnsResourceRecord>
}

export class DnsDecodeError extends Data.TaggedError("DnsDecodeError")<{
  readonly reason: string
  readonly offset: number
}> {}

export class DnsEncodeError extends Data.TaggedError("DnsEncodeError")<{
  readonly reason: string
}> {}

const HEADER_LENGTH = 12
const MAX_LABEL_LENGTH = 63
/** Wire length of a name, length octets and the final zero included (RFC 1035 3.1). */
const MAX_NAME_WIRE_LENGTH = 255
export const MAX_CHARACTER_STRING_LENGTH = 255

// Internal control flow of the decoder; never leaves this module.
class Stop {
  readonly reason: string
  readonly offset: number
  constructor(reason: string, offset: number) {
    this.reason = reason
    this.offset = offset
  }
}

const escapeLabel = (label: Uint8Array): string => {
  let out = ""
  for (const byte of label) {
    if (byte === 0x2e) out += "\\."
    else if (byte === 0x5c) out += "\\\\"
    else if (byte > 0x20 && byte < 0x7f) out += String.fromCharCode(byte)
    else out += `\\${byte.toString().padStart(3, "0")}`
  }
  return out
}

/** Splits a master-file name into raw labels; undefined when it is not a valid name. */
export const nameToLabels = (name: string): Array<Uint8Array> | undefined => {
  if (name === "" || name === ".") return []
  const labels: Array<Uint8Array> = []
  let current: Array<number> = []
  let endedWithDot = false
  let i = 0
  while (i < name.length) {
    const ch = name.charCodeAt(i)
    endedWithDot = false
    if (ch === 0x2e) {
      if (current.length === 0) return undefined
      labels.push(Uint8Array.from(current))
      current = []
      endedWithDot = true
      i += 1
      continue
    }
    if (ch === 0x5c) {
      const digits = name.slice(i + 1, i + 4)
      if (/^[0-9]{3}$/.test(digits)) {
        const value = Number(digits)
        if (value > 255) return undefined
        current.push(value)
        i += 4
      } else if (
        i + 1 < name.length &&
        name.charCodeAt(i + 1) > 0x20 &&
        name.charCodeAt(i + 1) < 0x7f
      ) {
        current.push(name.charCodeAt(i + 1))
        i += 2
      } else {
        return undefined
      }
    } else if (ch > 0x20 && ch < 0x7f) {
      current.push(ch)
      i += 1
    } else {
      return undefined
    }
    if (current.length > MAX_LABEL_LENGTH) return undefined
  }
  if (current.length > 0) labels.push(Uint8Array.from(current))
  else if (!endedWithDot) return undefined
  const wireLength = labels.reduce((n, label) => n + label.length + 1, 1)
  return wireLength > MAX_NAME_WIRE_LENGTH ? undefined : labels
}

export const labelsToName = (labels: ReadonlyArray<Uint8Array>): string =>
  labels.map(escapeLabel).join(".")

/** Lower-case ASCII form without a trailing dot: the key names are compared by. */
export const canonicalName = (name: string): string => {
  const labels = nameToLabels(name)
  const text = labels === undefined ? name : labelsToName(labels)
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase())
}

class Reader {
  readonly bytes: Uint8Array
  offset = 0
  constructor(bytes: Uint8Array) {
    this.bytes = bytes
  }
  need(n: number, what: string): void {
    if (this.offset + n > this.bytes.length) throw new Stop(`truncated ${what}`, this.offset)
  }
  u8(what: string): number {
    this.need(1, what)
    const value = this.bytes[this.offset] as number
    this.offset += 1
    return value
  }
  u16(what: string): number {
    this.need(2, what)
    const value =
      ((this.bytes[this.offset] as number) << 8) | (this.bytes[this.offset + 1] as number)
    this.offset += 2
    return value
  }
  u32(what: string): number {
    this.need(4, what)
    const value = this.u16(what) * 0x10000 + this.u16(what)
    return value
  }
  take(n: number, what: string): Uint8Array {
    this.need(n, what)
    const out = this.bytes.slice(this.offset, this.offset + n)
    this.offset += n
    return out
  }
  name(): string {
    const labels: Array<Uint8Array> = []
    let position = this.offset
    let wireLength = 1
    // After the first pointer the reader's own offset stops moving; each
    // pointer must go strictly backwards, which also rules out loops.
    let jumped = false
    let lowestTarget = position
    for (;;) {
      if (position >= this.bytes.length) throw new Stop("truncated name", position)
      const length = this.bytes[position] as number
      if (length === 0) {
        if (!jumped) this.offset = position + 1
        return labelsToName(labels)
      }
      const kind = length & 0xc0
      if (kind === 0xc0) {
        if (position + 1 >= this.bytes.length) throw new Stop("truncated pointer", position)
        const target = ((length & 0x3f) << 8) | (this.bytes[position + 1] as number)
        if (target >= lowestTarget) throw new Stop("forward or looping pointer", position)
        if (!jumped) this.offset = position + 2
        jumped = true
        lowestTarget = target
        position = target
        continue
      }
      if (kind !== 0) throw new Stop("unsupported label type", position)
      if (position + 1 + length > this.bytes.length) throw new Stop("truncated label", position)
      wireLength += length + 1
      if (wireLength > MAX_NAME_WIRE_LENGTH) throw new Stop("name too long", position)
      labels.push(this.bytes.slice(position + 1, position + 1 + length))
      position += 1 + length
    }
  }
}

const readQuestion = (reader: Reader): DnsQuestion => {
  const name = reader.name()
  return { name, type: reader.u16("question type"), class: reader.u16("question class") }
}

const readRecord = (reader: Reader): DnsResourceRecord => {
  const name = reader.name()
  const type = reader.u16("record type")
  const klass = reader.u16("record class")
  const ttl = reader.u32("record ttl")
  const length = reader.u16("record data length")
  return { name, type, class: klass, ttl, data: reader.take(length, "record data") }
}

/** Decodes one message. Never throws: every malformed input is a `DnsDecodeError`. */
export const decodeDnsMessage = (bytes: Uint8Array): Result.Result<DnsMessage, DnsDecodeError> => {
  try {
    const reader = new Reader(bytes)
    reader.need(HEADER_LENGTH, "header")
    const id = reader.u16("id")
    const flags = reader.u16("flags")
    const counts = [reader.u16("qdcount"), reader.u16("ancount"), reader.u16("nscount")]
    const arcount = reader.u16("arcount")
    const [qdcount = 0, ancount = 0, nscount = 0] = counts
    const questions: Array<DnsQuestion> = []
    for (let i = 0; i < qdcount; i++) questions.push(readQuestion(reader))
    const sections: Array<Array<DnsResourceRecord>> = [[], [], []]
    ;[ancount, nscount, arcount].forEach((count, section) => {
      for (let i = 0; i < count; i++) sections[section]?.push(readRecord(reader))
    })
    return Result.succeed({
      id,
      qr: (flags & 0x8000) !== 0,
      opcode: (flags >> 11) & 0xf,
      aa: (flags & 0x0400) !== 0,
      tc: (flags & 0x0200) !== 0,
      rd: (flags & 0x0100) !== 0,
      ra: (flags & 0x0080) !== 0,
      z: (flags >> 4) & 0x7,
      rcode: flags & 0xf,
      questions,
      answers: sections[0] ?? [],
      authorities: sections[1] ?? [],
      additionals: sections[2] ?? [],
    })
  } catch (error) {
    if (error instanceof Stop) {
      return Result.fail(new DnsDecodeError({ reason: error.reason, offset: error.offset }))
    }
    return Result.fail(new DnsDecodeError({ reason: String(error), offset: 0 }))
  }
}

class Writer {
  private chunks: Array<number> = []
  u8(value: number): void {
    this.chunks.push(value & 0xff)
  }
  u16(value: number): void {
    this.chunks.push((value >> 8) & 0xff, value & 0xff)
  }
  u32(value: number): void {
    this.u16(Math.floor(value / 0x10000) & 0xffff)
    this.u16(value & 0xffff)
  }
  bytes(data: Uint8Array): void {
    for (const byte of data) this.chunks.push(byte)
  }
  name(name: string): void {
    const labels = nameToLabels(name)
    if (labels === undefined) throw new DnsEncodeError({ reason: `invalid name: ${name}` })
    for (const label of labels) {
      this.u8(label.length)
      this.bytes(label)
    }
    this.u8(0)
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.chunks)
  }
}

const checkU16 = (value: number, what: string): void => {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new DnsEncodeError({ reason: `${what} out of range: ${value}` })
  }
}

/** Encodes a message without name compression. */
export const encodeDnsMessage = (
  message: DnsMessage,
): Result.Result<Uint8Array, DnsEncodeError> => {
  try {
    const writer = new Writer()
    checkU16(message.id, "id")
    writer.u16(message.id)
    writer.u16(
      (message.qr ? 0x8000 : 0) |
        ((message.opcode & 0xf) << 11) |
        (message.aa ? 0x0400 : 0) |
        (message.tc ? 0x0200 : 0) |
        (message.rd ? 0x0100 : 0) |
        (message.ra ? 0x0080 : 0) |
        ((message.z & 0x7) << 4) |
        (message.rcode & 0xf),
    )
    const sections = [message.answers, message.authorities, message.additionals]
    for (const count of [message.questions.length, ...sections.map((s) => s.length)]) {
      checkU16(count, "section count")
      writer.u16(count)
    }
    for (const question of message.questions) {
      checkU16(question.type, "type")
      checkU16(question.class, "class")
      writer.name(question.name)
      writer.u16(question.type)
      writer.u16(question.class)
    }
    for (const section of sections) {
      for (const record of section) {
        checkU16(record.type, "type")
        checkU16(record.class, "class")
        checkU16(record.data.length, "record data length")
        if (!Number.isInteger(record.ttl) || record.ttl < 0 || record.ttl > 0xffffffff) {
          throw new DnsEncodeError({ reason: `ttl out of range: ${record.ttl}` })
        }
        writer.name(record.name)
        writer.u16(record.type)
        writer.u16(record.class)
        writer.u32(record.ttl)
        writer.u16(record.data.length)
        writer.bytes(record.data)
      }
    }
    return Result.succeed(writer.finish())
  } catch (error) {
    if (error instanceof DnsEncodeError) return Result.fail(error)
    return Result.fail(new DnsEncodeError({ reason: String(error) }))
  }
}

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder("utf-8", { fatal: true })

/**
 * TXT record data for one logical string: split into character-strings of at
 * most 255 bytes. Resolvers (veilid's included) join a record's strings.
 */
export const encodeTxtData = (text: string): Uint8Array => {
  const bytes = utf8.encode(text)
  const out: Array<number> = []
  if (bytes.length === 0) out.push(0)
  for (let i = 0; i < bytes.length; i += MAX_CHARACTER_STRING_LENGTH) {
    const chunk = bytes.subarray(i, i + MAX_CHARACTER_STRING_LENGTH)
    out.push(chunk.length, ...chunk)
  }
  return Uint8Array.from(out)
}

/** The character-strings of TXT record data, joined, as veilid reads them. */
export const decodeTxtData = (data: Uint8Array): Result.Result<string, DnsDecodeError> => {
  const parts: Array<number> = []
  let offset = 0
  while (offset < data.length) {
    const length = data[offset] as number
    if (offset + 1 + length > data.length) {
      return Result.fail(new DnsDecodeError({ reason: "truncated character-string", offset }))
    }
    parts.push(...data.subarray(offset + 1, offset + 1 + length))
    offset += 1 + length
  }
  try {
    return Result.succeed(utf8Decoder.decode(Uint8Array.from(parts)))
  } catch {
    return Result.fail(new DnsDecodeError({ reason: "TXT data is not UTF-8", offset: 0 }))
  }
}
