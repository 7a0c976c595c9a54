import { Result } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeBase64Url, encodeBase64Url } from "../src/base64url.ts"

const base64UrlText = fc.string({
  unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ ."),
  maxLength: 48,
})

describe("base64url", () => {
  it("encodes like Node's Buffer and decodes back to the same bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = encodeBase64Url(bytes)
        expect(text).toBe(Buffer.from(bytes).toString("base64url"))
        expect(Result.getOrThrow(decodeBase64Url(text))).toEqual(bytes)
      }),
    )
  })

  it("accepts only the canonical text of the bytes it decodes to", () => {
    fc.assert(
      fc.property(base64UrlText, (text) => {
        const decoded = decodeBase64Url(text)
        if (Result.isSuccess(decoded)) expect(encodeBase64Url(decoded.success)).toBe(text)
      }),
      { numRuns: 500 },
    )
  })

  it.each([
    ["AA==", "padding '=' is not allowed"],
    ["AB", "unused bits set"],
    ["A", "truncated"],
    ["AA+A", "character 3 is not base64url"],
    ["AA A", "character 3 is not base64url"],
  ])("refuses %j", (text, reason) => {
    const decoded = decodeBase64Url(text)
    expect(Result.isFailure(decoded) && decoded.failure).toContain(reason)
  })
})
