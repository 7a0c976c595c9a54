import * as dgram from "node:dgram"
import * as net from "node:net"
import { Result } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bytesToIpv6, type NodeAddress, nodeAddressAt } from "../src/addresses.ts"
import {
  type DnsMessage,
  DnsRcode,
  DnsType,
  decodeDnsMessage,
  decodeTxtData,
  encodeDnsMessage,
} from "../src/dns-message.ts"
import { answerQuery, type DnsServer, startDnsServer } from "../src/dns-server.ts"
import { bootstrapZone, type Zone } from "../src/zone.ts"

const address = (i: number) => nodeAddressAt(i) as NodeAddress
const zone: Zone = bootstrapZone("abc123.sdwtn.test", [
  { name: "n0", publicKey: `VLD0:${"A".repeat(43)}`, address: address(0), port: 5150 },
  { name: "n1", publicKey: `VLD0:${"B".repeat(43)}`, address: address(1), port: 5150 },
])

let nextId = 1
const query = (name: string, type: number, patch: Partial<DnsMessage> = {}): Uint8Array =>
  Result.getOrThrow(
    encodeDnsMessage({
      id: nextId++,
      qr: false,
      opcode: 0,
      aa: false,
      tc: false,
      rd: true,
      ra: false,
      z: 0,
      rcode: 0,
      questions: [{ name, type, class: 1 }],
      answers: [],
      authorities: [],
      additionals: [],
      ...patch,
    }),
  )

const ask = (bytes: Uint8Array, z: Zone = zone, limit?: number): DnsMessage => {
  const answer = answerQuery(bytes, z, limit)
  if (answer === undefined) throw new Error("no answer")
  return Result.getOrThrow(decodeDnsMessage(answer))
}

const txtOf = (message: DnsMessage): Array<string> =>
  message.answers.map((rr) => Result.getOrThrow(decodeTxtData(rr.data)))

describe("answers", () => {
  it("gives the root name's TXT: the node names", () => {
    const reply = ask(query("abc123.sdwtn.test", DnsType.TXT))
    expect(reply.rcode).toBe(DnsRcode.NoError)
    expect(reply.qr && reply.aa).toBe(true)
    expect(txtOf(reply)).toEqual(["n0,n1"])
  })

  it("gives a node's v0 record, whatever the case and trailing dot", () => {
    const reply = ask(query("N1.ABC123.sdwtn.test.", DnsType.TXT))
    expect(txtOf(reply)).toEqual([`0|0|VLD0:${"B".repeat(43)}|11.77.1.2|U5150,T5150,W5150/ws`])
    expect(reply.answers[0]?.name).toBe("N1.ABC123.sdwtn.test.".slice(0, -1))
  })

  it("gives a node's IPv4 (A) and IPv6 (AAAA) address", () => {
    const a = ask(query("n1.abc123.sdwtn.test", DnsType.A))
    expect(a.answers.map((rr) => [rr.type, [...rr.data].join(".")])).toEqual([
      [DnsType.A, "11.77.1.2"],
    ])
    const aaaa = ask(query("n1.abc123.sdwtn.test", DnsType.AAAA))
    expect(aaaa.answers.map((rr) => [rr.type, bytesToIpv6(rr.data)])).toEqual([
      [DnsType.AAAA, "3fff:1:0:100::1"],
    ])
    const any = ask(query("n1.abc123.sdwtn.test", DnsType.ANY))
    expect(any.answers.map((rr) => rr.type)).toEqual([DnsType.TXT, DnsType.A, DnsType.AAAA])
  })

  it("answers other types of a zone name with no records (NODATA)", () => {
    for (const [name, type] of [
      ["n0.abc123.sdwtn.test", DnsType.PTR],
      ["abc123.sdwtn.test", DnsType.A],
    ] as const) {
      const reply = ask(query(name, type))
      expect(reply.rcode).toBe(DnsRcode.NoError)
      expect(reply.answers).toEqual([])
    }
  })

  it("treats a name above zone names as existing (empty non-terminal)", () => {
    expect(ask(query("sdwtn.test", DnsType.TXT)).rcode).toBe(DnsRcode.NoError)
  })

  it("answers every other name with NXDOMAIN at once", () => {
    for (const name of ["bootstrap-v1.veilid.net", "example.com", "n2.abc123.sdwtn.test"]) {
      for (const type of [DnsType.A, DnsType.AAAA, DnsType.TXT, DnsType.PTR]) {
        const reply = ask(query(name, type))
        expect(reply.rcode).toBe(DnsRcode.NXDomain)
        expect(reply.answers).toEqual([])
      }
    }
  })

  it("answers malformed queries with FORMERR and other opcodes with NOTIMP", () => {
    expect(ask(query("a", 1, { questions: [] })).rcode).toBe(DnsRcode.FormErr)
    const two = query("a", 1, {
      questions: [
        { name: "a", type: 1, class: 1 },
        { name: "b", type: 1, class: 1 },
      ],
    })
    expect(ask(two).rcode).toBe(DnsRcode.FormErr)
    expect(ask(query("a", 1, { opcode: 2 })).rcode).toBe(DnsRcode.NotImp)
    const garbage = Uint8Array.from([0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63])
    const reply = ask(garbage)
    expect([reply.id, reply.rcode]).toEqual([0xabcd, DnsRcode.FormErr])
  })

  it("sets TC instead of sending more than the transport carries", () => {
    const big: Zone = new Map([["big.test", { txt: ["x".repeat(400), "y".repeat(400)] }]])
    const truncated = ask(query("big.test", DnsType.TXT), big)
    expect(truncated.tc).toBe(true)
    expect(truncated.answers).toEqual([])
    expect(txtOf(ask(query("big.test", DnsType.TXT), big, 0xffff))).toHaveLength(2)
  })

  it("never throws on random input and answers anything with a header", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const answer = answerQuery(bytes, zone)
        expect(answer === undefined).toBe(bytes.length < 12)
      }),
      { numRuns: 2000 },
    )
  })
})

describe("server", () => {
  let server: DnsServer
  beforeAll(async () => {
    server = await startDnsServer({ host: "127.0.0.1", port: 0, zone: () => zone })
  })
  afterAll(() => server.close())

  it("answers over UDP", async () => {
    const socket = dgram.createSocket("udp4")
    const reply = await new Promise<Buffer>((resolve) => {
      socket.once("message", resolve)
      socket.send(query("abc123.sdwtn.test", DnsType.TXT), server.port, "127.0.0.1")
    })
    socket.close()
    expect(txtOf(Result.getOrThrow(decodeDnsMessage(reply)))).toEqual(["n0,n1"])
  })

  it("answers over TCP, several queries on one connection", async () => {
    const socket = net.connect(server.port, "127.0.0.1")
    const frames: Array<Buffer> = []
    const done = new Promise<void>((resolve) => {
      let buffered = Buffer.alloc(0)
      socket.on("data", (chunk) => {
        buffered = Buffer.concat([buffered, chunk])
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          frames.push(buffered.subarray(2, 2 + buffered.readUInt16BE(0)))
          buffered = buffered.subarray(2 + buffered.readUInt16BE(0))
        }
        if (frames.length === 2) resolve()
      })
    })
    for (const name of ["n0.abc123.sdwtn.test", "nope.test"]) {
      const q = query(name, DnsType.TXT)
      const framed = Buffer.alloc(2 + q.length)
      framed.writeUInt16BE(q.length)
      framed.set(q, 2)
      socket.write(framed)
    }
    await done
    socket.destroy()
    const [first, second] = frames.map((f) => Result.getOrThrow(decodeDnsMessage(f)))
    expect(first && txtOf(first)[0]).toMatch(/^0\|0\|VLD0:A+\|11\.77\.1\.1\|/)
    expect(second?.rcode).toBe(DnsRcode.NXDomain)
  })
})
