import { Result } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeText, encodeText } from "../src/percent-encoding.ts"

const encodedText = fc.string({
  unit: fc.constantFrom(..."Aa0-._~%2CF8ef+ &=é"),
  maxLength: 24,
})

describe("percent-encoding of text values", () => {
  it("round-trips any well-formed Unicode string", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (text) => {
        expect(Result.getOrThrow(decodeText(encodeText(text)))).toBe(text)
      }),
    )
  })

  it("writes unreserved characters as they are and the rest as upper-case escapes", () => {
    expect(encodeText("Family photos ~ 2025!")).toBe("Family%20photos%20~%202025%21")
    expect(encodeText("é")).toBe("%C3%A9")
  })

  it("accepts only the canonical text of the string it decodes to", () => {
    fc.assert(
      fc.property(encodedText, (raw) => {
        const decoded = decodeText(raw)
        if (Result.isSuccess(decoded)) expect(encodeText(decoded.success)).toBe(raw)
      }),
      { numRuns: 500 },
    )
  })

  it.each([
    ["%c3%a9", "upper-case hex"],
    ["%41", "must be written as the character it encodes"],
    ["a b", "character 2 must be percent-encoded"],
    ["a+b", "character 2 must be percent-encoded"],
    ["%FF", "not valid UTF-8"],
    ["%E", "two upper-case hex digits"],
  ])("refuses %j", (raw, reason) => {
    const decoded = decodeText(raw)
    expect(Result.isFailure(decoded) && decoded.failure).toContain(reason)
  })
})
