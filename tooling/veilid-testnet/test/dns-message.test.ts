import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  type DnsMessage,
  DnsRcode,
  type DnsResourceRecord,
  DnsType,
  decodeDnsMessage,
  decodeTxtData,
  encodeDnsMessage,
  encodeTxtData,
  labelsToName,
  nameToLabels,
} from "../src/dns-message.ts"

const label = fc.uint8Array({ minLength: 1, maxLength: 63 })
/** Names whose wire form fits 255 bytes. */
const name = fc
  .array(label, { maxLength: 8 })
  .filter((labels) => labels.reduce((n, l) => n + l.length + 1, 1) <= 255)
  .map(labelsToName)
const u16 = fc.integer({ min: 0, max: 0xffff })
const record: fc.Arbitrary<DnsResourceRecord> = fc.record({
  name,
  type: u16,
  class: u16,
  ttl: fc.integer({ min: 0, max: 0xffffffff }),
  data: fc.uint8Array({ maxLength: 300 }),
})
const message: fc.Arbitrary<DnsMessage> = fc.record({
  id: u16,
  qr: fc.boolean(),
  opcode: fc.integer({ min: 0, max: 15 }),
  aa: fc.boolean(),
  tc: fc.boolean(),
  rd: fc.boolean(),
  ra: fc.boolean(),
  z: fc.integer({ min: 0, max: 7 }),
  rcode: fc.integer({ min: 0, max: 15 }),
  questions: fc.array(fc.record({ name, type: u16, class: u16 }), { maxLength: 3 }),
  answers: fc.array(record, { maxLength: 3 }),
  authorities: fc.array(record, { maxLength: 2 }),
  additionals: fc.array(record, { maxLength: 2 }),
})

const encode = (m: DnsMessage) => Result.getOrThrow(encodeDnsMessage(m))

describe("DNS message codec", () => {
  it("decoding random bytes never throws", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => {
        const result = decodeDnsMessage(bytes)
        expect(Result.isSuccess(result) || Result.isFailure(result)).toBe(true)
      }),
      { numRuns: 2000 },
    )
  })

  it("decoding a corrupted valid message never throws", () => {
    fc.assert(
      fc.property(
        message,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.nat(),
        (m, flips, cut) => {
          const bytes = encode(m)
          for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value
          const truncated = bytes.subarray(0, bytes.length === 0 ? 0 : cut % (bytes.length + 1))
          decodeDnsMessage(bytes)
          decodeDnsMessage(truncated)
        },
      ),
      { numRuns: 1000 },
    )
  })

  it("a message survives encode then decode unchanged", () => {
    fc.assert(
      fc.property(message, (m) => {
        const decoded = decodeDnsMessage(encode(m))
        expect(Result.isSuccess(decoded)).toBe(true)
        expect(Result.getOrThrow(decoded)).toEqual(m)
      }),
      { numRuns: 500 },
    )
  })

  it("any label survives the text form of names", () => {
    fc.assert(
      fc.property(fc.array(label, { maxLength: 3 }), (labels) => {
        expect(nameToLabels(labelsToName(labels))).toEqual(labels)
      }),
    )
  })

  it("text names: trailing dot, escapes and invalid forms", () => {
    const bytes = (s: string) => new TextEncoder().encode(s)
    expect(nameToLabels("a.example.")).toEqual([bytes("a"), bytes("example")])
    expect(nameToLabels("a\\.b.c")).toEqual([bytes("a.b"), bytes("c")])
    expect(nameToLabels("a\\\\.c")).toEqual([bytes("a\\"), bytes("c")])
    expect(nameToLabels("\\000x")).toEqual([Uint8Array.of(0, 0x78)])
    expect(nameToLabels(".")).toEqual([])
    for (const bad of ["a..b", ".a", "a b", "\\256", "x".repeat(64), "a\\"]) {
      expect(nameToLabels(bad)).toBeUndefined()
    }
  })

  it("follows compression pointers", () => {
    // Query for "a.example" then an answer whose owner name points back at it.
    const bytes = Uint8Array.from([
      0x12,
      0x34,
      0x81,
      0x80,
      0,
      1,
      0,
      1,
      0,
      0,
      0,
      0,
      1,
      0x61,
      7,
      ...new TextEncoder().encode("example"),
      0,
      0,
      16,
      0,
      1,
      0xc0,
      12,
      0,
      16,
      0,
      1,
      0,
      0,
      0,
      60,
      0,
      3,
      2,
      0x68,
      0x69,
    ])
    const decoded = Result.getOrThrow(decodeDnsMessage(bytes))
    expect(decoded.questions).toEqual([{ name: "a.example", type: DnsType.TXT, class: 1 }])
    expect(decoded.answers[0]?.name).toBe("a.example")
    expect(Result.getOrThrow(decodeTxtData(decoded.answers[0]?.data ?? new Uint8Array()))).toBe(
      "hi",
    )
  })

  it("rejects pointer loops and forward pointers", () => {
    const header = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    const selfLoop = Uint8Array.from([...header, 0xc0, 12, 0, 16, 0, 1])
    const forward = Uint8Array.from([...header, 0xc0, 14, 0, 0, 16, 0, 1])
    for (const bytes of [selfLoop, forward]) {
      const decoded = decodeDnsMessage(bytes)
      expect(Result.isFailure(decoded)).toBe(true)
    }
  })

  it("reports truncation with the offset where it happened", () => {
    const decoded = decodeDnsMessage(Uint8Array.from([0, 1, 0, 0, 0, 1]))
    expect(Result.isFailure(decoded) && decoded.failure.reason).toBe("truncated header")
  })

  it("refuses to encode what DNS cannot carry", () => {
    const base = Result.getOrThrow(decodeDnsMessage(encode(fc.sample(message, 1)[0] as DnsMessage)))
    const badName = { ...base, questions: [{ name: "a..b", type: 1, class: 1 }] }
    const badType = { ...base, questions: [{ name: "a", type: 70000, class: 1 }] }
    expect(Result.isFailure(encodeDnsMessage(badName))).toBe(true)
    expect(Result.isFailure(encodeDnsMessage(badType))).toBe(true)
    expect(DnsRcode.NXDomain).toBe(3)
  })
})

describe("TXT data", () => {
  it("round-trips any string, in character-strings of at most 255 bytes", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 700 }), (text) => {
        const data = encodeTxtData(text)
        let offset = 0
        while (offset < data.length) {
          expect(data[offset]).toBeLessThanOrEqual(255)
          offset += 1 + (data[offset] as number)
        }
        expect(offset).toBe(data.length)
        expect(Result.getOrThrow(decodeTxtData(data))).toBe(text)
      }),
    )
  })

  it("splits a 600-byte string into 255 + 255 + 90", () => {
    const data = encodeTxtData("x".repeat(600))
    expect([data[0], data[256], data[512]]).toEqual([255, 255, 90])
  })

  it("rejects a character-string that runs past the data", () => {
    expect(Result.isFailure(decodeTxtData(Uint8Array.of(5, 0x61)))).toBe(true)
  })
})
