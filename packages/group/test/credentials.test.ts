// The stored form of group credentials: a codec, so property tests.
import { inspect } from "node:util"
import {
  makeSecretKey,
  ReadCapability,
  ReplicateCapability,
  WriteCapability,
} from "@save-dweb/uri-scheme"
import { Effect, Exit, Redacted } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  decodeCredentials,
  encodeCredentials,
  type GroupCapability,
  GroupCredentials,
  ManageCapability,
} from "../src/index.ts"

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 })
const secret = bytes32.map(makeSecretKey)
const recordKey = fc
  .tuple(bytes32, fc.option(bytes32, { nil: undefined }))
  .map(([a, b]) =>
    b === undefined
      ? `VLD0:${Buffer.from(a).toString("base64url")}`
      : `VLD0:${Buffer.from(a).toString("base64url")}:${Buffer.from(b).toString("base64url")}`,
  )
const name = fc.option(fc.stringMatching(/^[A-Za-z0-9 ]{1,40}$/), { nil: undefined })

const capability: fc.Arbitrary<GroupCapability> = fc.oneof(
  fc.record({ dhtKey: secret, authKey: secret }).map((f) => new ReplicateCapability(f)),
  fc.record({ groupSecret: secret }).map((f) => new ReadCapability(f)),
  fc
    .record({ groupSecret: secret, slot: fc.integer({ min: 0, max: 254 }), writerSeed: secret })
    .map((f) => new WriteCapability(f)),
  fc.record({ groupSecret: secret, manageSecret: secret }).map((f) => new ManageCapability(f)),
)

const credentials = fc
  .record({ group: recordKey, capability, name })
  .map(
    ({ name, ...rest }) =>
      new GroupCredentials({ ...rest, ...(name === undefined ? {} : { name }) }),
  )

const secretsOf = (c: GroupCredentials): ReadonlyArray<Uint8Array> =>
  Object.values(c.capability)
    .filter(Redacted.isRedacted)
    .map((r) => Redacted.value(r as Redacted.Redacted<Uint8Array>))

describe("stored credentials", () => {
  it("decode(encode(c)) is c, for every tier", () => {
    fc.assert(
      fc.property(credentials, (c) => {
        const bytes = encodeCredentials(c)
        const back = Effect.runSync(decodeCredentials(bytes))
        expect(back.tier).toBe(c.tier)
        expect(back.group).toBe(c.group)
        expect(back.name).toBe(c.name)
        expect(encodeCredentials(back)).toEqual(bytes)
        expect(secretsOf(back)).toEqual(secretsOf(c))
      }),
      { numRuns: 200 },
    )
  })

  it("any other bytes fail with InvalidCredentials, never a defect", () => {
    const mangled = fc
      .tuple(credentials, fc.nat(), fc.integer({ min: 1, max: 255 }))
      .map(([c, at, xor]) => {
        const bytes = encodeCredentials(c)
        const i = at % bytes.length
        bytes[i] = (bytes[i] as number) ^ xor
        return bytes
      })
    fc.assert(
      fc.property(fc.oneof(mangled, fc.uint8Array({ maxLength: 300 })), (bytes) => {
        const exit = Effect.runSyncExit(decodeCredentials(bytes))
        if (Exit.isFailure(exit)) {
          const error = Effect.runSync(Effect.flip(decodeCredentials(bytes)))
          expect(error._tag).toBe("InvalidCredentials")
          expect(error.reason).toBe("Malformed")
        }
      }),
      { numRuns: 300 },
    )
  })

  it("credentials print without their secrets", () => {
    fc.assert(
      fc.property(credentials, (c) => {
        const texts = [String(c), JSON.stringify(c), inspect(c, { depth: 10 })]
        for (const bytes of secretsOf(c)) {
          for (const spelling of [
            Buffer.from(bytes).toString("base64url"),
            Buffer.from(bytes).toString("hex"),
            bytes.join(","),
          ]) {
            for (const text of texts) expect(text).not.toContain(spelling)
          }
        }
      }),
      { numRuns: 100 },
    )
  })
})
