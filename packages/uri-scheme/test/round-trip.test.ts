import { Equal, Redacted } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  BackupDescriptor,
  formatLink,
  GroupInvite,
  type Link,
  MAX_LINK_LENGTH,
  MAX_PAIRING_ENTRIES,
  MAX_PAIRING_LINK_LENGTH,
  PairingEntry,
  PairingLink,
  parseLinkSync,
  ReadCapability,
  ReplicateCapability,
  WriteCapability,
} from "../src/index.ts"
import { fake, fakeKey, groupInvite, link, pairingEntry } from "./arbitraries.ts"

const secret = (byte: number) => Redacted.make(fake(byte))

// The examples the README shows; bytes are obviously fake.
const examples: ReadonlyArray<readonly [string, Link]> = [
  [
    "save+dweb:invite?v=1&cap=replicate&group=VLD0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&dht=ERERERERERERERERERERERERERERERERERERERERERE&auth=IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI&name=Family%20photos",
    new GroupInvite({
      group: fakeKey(0),
      capability: new ReplicateCapability({ dhtKey: secret(0x11), authKey: secret(0x22) }),
      name: "Family photos",
    }),
  ],
  [
    "save+dweb:invite?v=1&cap=read&group=VLD0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&secret=VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVU",
    new GroupInvite({
      group: fakeKey(0),
      capability: new ReadCapability({ groupSecret: secret(0x55) }),
    }),
  ],
  [
    "save+dweb:invite?v=1&cap=write&group=VLD0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&secret=VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVU&slot=3&wkey=qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo&name=Family%20photos",
    new GroupInvite({
      group: fakeKey(0),
      capability: new WriteCapability({
        groupSecret: secret(0x55),
        slot: 3,
        writerSeed: secret(0xaa),
      }),
      name: "Family photos",
    }),
  ],
  [
    "save+dweb:backup?v=1&record=VLD0:__________________________________________8&access=d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3c&name=Archive%20box",
    new BackupDescriptor({
      record: fakeKey(0xff),
      accessSecret: secret(0x77),
      name: "Archive box",
    }),
  ],
  [
    "save+dweb:pair?v=1&data=AQEkVkxEMAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIFVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVAQMgqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqokVkxEMO7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7uILu7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7",
    new PairingLink({
      entries: [
        new PairingEntry({
          group: fakeKey(0),
          groupSecret: secret(0x55),
          slot: 3,
          writerSeed: secret(0xaa),
          repo: fakeKey(0xee),
          repoOwnerSeed: secret(0xbb),
        }),
      ],
    }),
  ],
]

describe("round trip", () => {
  it.each(examples)("formats and parses %s", (text, value) => {
    expect(formatLink(value)).toBe(text)
    expect(Equal.equals(parseLinkSync(text), value)).toBe(true)
  })

  it("parse(format(x)) equals x for every kind and tier", () => {
    fc.assert(
      fc.property(link, (value) => {
        const text = formatLink(value)
        const parsed = parseLinkSync(text)
        expect(Equal.equals(parsed, value)).toBe(true)
        expect(formatLink(parsed)).toBe(text)
        expect(text.length).toBeLessThanOrEqual(
          value._tag === "PairingLink" ? MAX_PAIRING_LINK_LENGTH : MAX_LINK_LENGTH,
        )
      }),
      { numRuns: 300 },
    )
  })

  it("equality sees a change of one secret byte, so the round trip check is not vacuous", () => {
    fc.assert(
      fc.property(groupInvite, fc.nat(31), (invite, index) => {
        const parsed = parseLinkSync(formatLink(invite)) as GroupInvite
        const cap = parsed.capability
        const bytes = Redacted.value(
          cap._tag === "ReplicateCapability" ? cap.dhtKey : cap.groupSecret,
        )
        bytes[index] = ((bytes[index] ?? 0) + 1) & 0xff
        expect(Equal.equals(parsed, invite)).toBe(false)
      }),
      { numRuns: 50 },
    )
  })

  it("a pairing link with the most entries stays within its length limit", () => {
    const entries = fc.sample(pairingEntry, MAX_PAIRING_ENTRIES).map(
      (entry, i) =>
        new PairingEntry({
          ...entry,
          group: fakeKey(i),
          repo: `${fakeKey(i)}:${fakeKey(i).slice(5)}`,
        }),
    )
    const value = new PairingLink({ entries })
    const text = formatLink(value)
    expect(text.length).toBeLessThanOrEqual(MAX_PAIRING_LINK_LENGTH)
    expect(Equal.equals(parseLinkSync(text), value)).toBe(true)
  })

  it("accepts surrounding whitespace, <...> and an upper-case scheme", () => {
    const [text = "", value] = examples[1] ?? []
    for (const variant of [
      ` ${text}\n`,
      `<${text}>`,
      `\t< ${text} >\r\n`,
      text.replace("save+dweb:", "SAVE+DWEB:"),
    ]) {
      expect(Equal.equals(parseLinkSync(variant), value)).toBe(true)
    }
  })

  it("constructors refuse values no link could carry", () => {
    expect(() => new ReadCapability({ groupSecret: Redacted.make(new Uint8Array(31)) })).toThrow()
    expect(
      () => new WriteCapability({ groupSecret: secret(1), slot: 255, writerSeed: secret(2) }),
    ).toThrow()
    expect(() => new BackupDescriptor({ record: "VLD0:short", accessSecret: secret(1) })).toThrow()
    expect(
      () =>
        new GroupInvite({
          group: fakeKey(0),
          capability: new ReadCapability({ groupSecret: secret(1) }),
          name: "x".repeat(129),
        }),
    ).toThrow()
    const [entry] = fc.sample(pairingEntry, 1)
    expect(() => new PairingLink({ entries: [] })).toThrow()
    if (entry) expect(() => new PairingLink({ entries: [entry, entry] })).toThrow()
  })
})
