// An authoritative DNS server for the testnets' zones. It answers every
// query at once — TXT, A and AAAA data for zone names, an empty answer for
// other types of those names, NXDOMAIN for the rest, FORMERR/NOTIMP for what
// it cannot parse — so a resolver never waits or tries another server.
import * as dgram from "node:dgram"
import * as net from "node:net"
import { Result } from "effect"
import { ipv4ToInt, ipv6ToBytes } from "./addresses.ts"
import {
  canonicalName,
  type DnsMessage,
  DnsRcode,
  type DnsResourceRecord,
  DnsType,
  decodeDnsMessage,
  encodeDnsMessage,
  encodeTxtData,
} from "./dns-message.ts"
import type { Zone } from "./zone.ts"

const ipv4Bytes = (ip: string): Uint8Array | undefined => {
  const value = ipv4ToInt(ip)
  return value === undefined
    ? undefined
    : Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff)
}

/** Plain DNS over UDP without EDNS (RFC 1035 4.2.1). */
export const UDP_PAYLOAD_LIMIT = 512
/** Bootstrap TXT answers are small and change only between testnets. */
export const ANSWER_TTL = 60

const nameExists = (zone: Zone, name: string): boolean => {
  if (name === "" || zone.has(name)) return true
  // An empty non-terminal (a name with data only below it) exists too.
  for (const key of zone.keys()) if (key.endsWith(`.${name}`)) return true
  return false
}

const reply = (query: DnsMessage, rcode: number, answers: ReadonlyArray<DnsResourceRecord>) => ({
  id: query.id,
  qr: true,
  opcode: query.opcode,
  aa: rcode === DnsRcode.NoError || rcode === DnsRcode.NXDomain,
  tc: false,
  rd: query.rd,
  ra: true,
  z: 0,
  rcode,
  questions: query.questions,
  answers,
  authorities: [],
  additionals: [],
})

/** The reply message for a decoded query. */
export const answerMessage = (query: DnsMessage, zone: Zone): DnsMessage => {
  if (query.qr) return reply({ ...query, questions: [] }, DnsRcode.FormErr, [])
  if (query.opcode !== 0) return reply({ ...query, questions: [] }, DnsRcode.NotImp, [])
  const [question] = query.questions
  if (question === undefined || query.questions.length !== 1) {
    return reply({ ...query, questions: [] }, DnsRcode.FormErr, [])
  }
  const name = canonicalName(question.name)
  if (!nameExists(zone, name)) return reply(query, DnsRcode.NXDomain, [])
  const entry = zone.get(name) ?? {}
  const wants = (type: number) => question.type === type || question.type === DnsType.ANY
  const record = (type: number, data: Uint8Array | undefined): Array<DnsResourceRecord> =>
    data === undefined
      ? []
      : [{ name: question.name, type, class: question.class, ttl: ANSWER_TTL, data }]
  const answers: Array<DnsResourceRecord> = [
    ...(wants(DnsType.TXT)
      ? (entry.txt ?? []).flatMap((t) => record(DnsType.TXT, encodeTxtData(t)))
      : []),
    ...(wants(DnsType.A) ? (entry.a ?? []).flatMap((ip) => record(DnsType.A, ipv4Bytes(ip))) : []),
    ...(wants(DnsType.AAAA)
      ? (entry.aaaa ?? []).flatMap((ip) => record(DnsType.AAAA, ipv6ToBytes(ip)))
      : []),
  ]
  return reply(query, DnsRcode.NoError, answers)
}

/**
 * The bytes to send back for a query datagram, or undefined when the input
 * is too broken to answer (shorter than a header). Never throws.
 */
export const answerQuery = (
  query: Uint8Array,
  zone: Zone,
  sizeLimit: number = UDP_PAYLOAD_LIMIT,
): Uint8Array | undefined => {
  const decoded = decodeDnsMessage(query)
  let message: DnsMessage
  if (Result.isSuccess(decoded)) {
    message = answerMessage(decoded.success, zone)
  } else {
    if (query.length < 12) return undefined
    const id = ((query[0] as number) << 8) | (query[1] as number)
    const header = {
      id,
      qr: false,
      opcode: ((query[2] as number) >> 3) & 0xf,
      aa: false,
      tc: false,
      rd: ((query[2] as number) & 1) === 1,
      ra: false,
      z: 0,
      rcode: 0,
      questions: [],
      answers: [],
      authorities: [],
      additionals: [],
    }
    message = reply(header, DnsRcode.FormErr, [])
  }
  const encoded = encodeDnsMessage(message)
  if (Result.isFailure(encoded)) {
    const failed = encodeDnsMessage(reply({ ...message, questions: [] }, DnsRcode.ServFail, []))
    return Result.isSuccess(failed) ? failed.success : undefined
  }
  if (encoded.success.length <= sizeLimit) return encoded.success
  // Too big for this transport: say so, and the resolver asks again over TCP.
  const truncated = encodeDnsMessage({ ...message, answers: [], tc: true })
  return Result.isSuccess(truncated) ? truncated.success : undefined
}

export interface DnsServer {
  readonly host: string
  readonly port: number
  readonly close: () => Promise<void>
}

export interface DnsServerOptions {
  readonly host: string
  /** 0 picks a free port (tests). */
  readonly port: number
  /** Read for every query, so zones can change while the server runs. */
  readonly zone: () => Zone
}

/** Serves `zone` over UDP and TCP on `host:port`. */
export const startDnsServer = async (options: DnsServerOptions): Promise<DnsServer> => {
  const udp = dgram.createSocket({ type: options.host.includes(":") ? "udp6" : "udp4" })
  udp.on("message", (msg, rinfo) => {
    const answer = answerQuery(msg, options.zone())
    if (answer !== undefined) udp.send(answer, rinfo.port, rinfo.address)
  })
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject)
    udp.bind(options.port, options.host, () => {
      udp.off("error", reject)
      resolve()
    })
  })
  const port = udp.address().port

  const sockets = new Set<net.Socket>()
  const tcp = net.createServer((socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    socket.on("error", () => socket.destroy())
    socket.setTimeout(10_000, () => socket.destroy())
    let buffered = Buffer.alloc(0)
    socket.on("data", (chunk) => {
      buffered = Buffer.concat([buffered, chunk])
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0)
        if (buffered.length < 2 + length) break
        const query = buffered.subarray(2, 2 + length)
        buffered = buffered.subarray(2 + length)
        const answer = answerQuery(query, options.zone(), 0xffff)
        if (answer === undefined) {
          socket.destroy()
          return
        }
        const framed = Buffer.alloc(2 + answer.length)
        framed.writeUInt16BE(answer.length, 0)
        framed.set(answer, 2)
        socket.write(framed)
      }
    })
  })
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject)
    tcp.listen(port, options.host, () => {
      tcp.off("error", reject)
      resolve()
    })
  })
  // Errors after start (e.g. a reply to a vanished client) must not crash the server.
  udp.on("error", () => {})
  tcp.on("error", () => {})

  return {
    host: options.host,
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ])
    },
  }
}
