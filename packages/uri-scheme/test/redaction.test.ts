import { inspect } from "node:util"
import { Redacted, Result, Schema } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { encodeBase64Url } from "../src/base64url.ts"
import {
  describeLink,
  formatLink,
  GroupInvite,
  type Link,
  parseLinkResult,
  parseLinkSync,
  ReadCapability,
  WriteCapability,
} from "../src/index.ts"
import { bytes32, fakeKey, link, secretsOf } from "./arbitraries.ts"

/** Every way these bytes could show up as text. */
const spellings = (bytes: Uint8Array): ReadonlyArray<string> => {
  const buffer = Buffer.from(bytes)
  return [
    encodeBase64Url(bytes),
    buffer.toString("base64"),
    buffer.toString("hex"),
    buffer.toString("hex").toUpperCase(),
    bytes.join(","),
    bytes.join(", "),
  ]
}

const renderings = (value: unknown): ReadonlyArray<string> => [
  String(value),
  `${value}`,
  JSON.stringify(value),
  inspect(value),
  inspect(value, { depth: Number.POSITIVE_INFINITY, showHidden: true, getters: true }),
]

const expectNoSecret = (texts: ReadonlyArray<string>, secrets: ReadonlyArray<Uint8Array>) => {
  for (const text of texts) {
    for (const bytes of secrets) {
      for (const spelling of spellings(bytes)) expect(text).not.toContain(spelling)
    }
  }
}

describe("secrets never print", () => {
  it("a parsed link printed any way shows <redacted>, not its secrets", () => {
    fc.assert(
      fc.property(link, (value) => {
        const parsed = parseLinkSync(formatLink(value))
        const texts = [...renderings(parsed), describeLink(parsed)]
        expectNoSecret(texts, secretsOf(parsed))
        expect(String(parsed)).toContain("<redacted>")
        expect(JSON.stringify(parsed)).toContain('"<redacted>"')
      }),
      { numRuns: 100 },
    )
  })

  it("the parts of a link print without secrets too", () => {
    fc.assert(
      fc.property(link, (value) => {
        const parts: ReadonlyArray<unknown> =
          value._tag === "GroupInvite"
            ? [value.capability, ...Object.values(value.capability)]
            : value._tag === "PairingLink"
              ? [value.entries, ...value.entries.flatMap((entry) => Object.values(entry))]
              : Object.values(value)
        expectNoSecret(parts.flatMap(renderings), secretsOf(value))
      }),
      { numRuns: 100 },
    )
  })

  it("a refused link's error does not repeat the secret it carried", () => {
    fc.assert(
      fc.property(bytes32, fc.integer({ min: 8, max: 31 }), (bytes, length) => {
        const short = bytes.subarray(0, length)
        const text = formatLink(
          new GroupInvite({
            group: fakeKey(0),
            capability: new WriteCapability({
              groupSecret: Redacted.make(bytes),
              slot: 1,
              writerSeed: Redacted.make(bytes),
            }),
          }),
        ).replace(/wkey=[^&]*/, `wkey=${encodeBase64Url(short)}=`)
        const result = parseLinkResult(text)
        expect(Result.isFailure(result)).toBe(true)
        if (Result.isFailure(result)) {
          expectNoSecret([...renderings(result.failure), result.failure.stack ?? ""], [short])
        }
      }),
      { numRuns: 100 },
    )
  })

  it("a constructor refusing a bad secret does not print it", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 31 }), (bytes) => {
        let error: unknown
        try {
          new ReadCapability({ groupSecret: Redacted.make(bytes) })
        } catch (e) {
          error = e
        }
        expect(error).toBeDefined()
        expectNoSecret(renderings(error), [bytes])
      }),
      { numRuns: 50 },
    )
  })

  it("the JSON codec refuses to encode secrets", () => {
    const invite = new GroupInvite({
      group: fakeKey(0),
      capability: new ReadCapability({ groupSecret: Redacted.make(new Uint8Array(32).fill(9)) }),
    })
    expect(() => Schema.encodeUnknownSync(Schema.toCodecJson(GroupInvite))(invite)).toThrow()
  })

  it("formatLink is the way to get secrets out as text", () => {
    fc.assert(
      fc.property(
        link.filter((value: Link) => value._tag !== "PairingLink"),
        (value) => {
          const text = formatLink(value)
          for (const bytes of secretsOf(value)) expect(text).toContain(encodeBase64Url(bytes))
        },
      ),
      { numRuns: 50 },
    )
  })
})
