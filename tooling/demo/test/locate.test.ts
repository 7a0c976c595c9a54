import { expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import fc from "fast-check"
import {
  decodeLocateRequest,
  decodeLocateResponse,
  encodeLocateRequest,
  encodeLocateResponse,
  type LocateResponse,
} from "../src/locate.ts"

const utf8 = (text: string) => new TextEncoder().encode(text)

const response = fc.oneof(
  fc.record({
    _tag: fc.constant("Found" as const),
    file: fc.string(),
    hash: fc.stringMatching(/^[0-9a-f]{64}$/),
    size: fc.nat(),
    nodeId: fc.string(),
    addresses: fc.array(fc.string(), { maxLength: 4 }),
  }),
  fc.record({ _tag: fc.constant("NotFound" as const), file: fc.string() }),
) as fc.Arbitrary<LocateResponse>

it("a locate request and any reply decode to what was encoded", () => {
  fc.assert(
    fc.property(fc.string(), (file) => {
      const request = { _tag: "Locate", file } as const
      expect(Effect.runSync(decodeLocateRequest(encodeLocateRequest(request)))).toEqual(request)
    }),
  )
  fc.assert(
    fc.property(response, (reply) => {
      expect(Effect.runSync(decodeLocateResponse(encodeLocateResponse(reply)))).toEqual(reply)
    }),
  )
})

it("any bytes decode to a reply or fail with LocateProtocolError, never a defect", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      const exit = Effect.runSyncExit(decodeLocateResponse(bytes))
      if (Exit.isFailure(exit)) {
        expect(exit.cause.reasons.map((reason) => reason._tag)).toEqual(["Fail"])
      }
    }),
  )
})

it("a reply with a hash that is not 64 hex characters is refused", () => {
  const reply = { _tag: "Found", file: "x", hash: "AB", size: 1, nodeId: "n", addresses: [] }
  const error = Effect.runSync(Effect.flip(decodeLocateResponse(utf8(JSON.stringify(reply)))))
  expect(error._tag).toBe("LocateProtocolError")
  expect(error.message).toMatch(/^locate reply does not decode/)
})
