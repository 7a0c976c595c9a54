import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import fc from "fast-check"
import {
  DecryptError,
  envelopeOverhead,
  InvalidEnvelope,
  openEnvelope,
  SecretKey,
  sealEnvelope,
} from "../src/index.ts"
import { bytes, equalBytes, secretKey } from "./arbitraries.ts"

const ad = fc.option(bytes(64), { nil: undefined })
const options = (associatedData: Uint8Array | undefined) =>
  associatedData === undefined ? undefined : { associatedData }

describe("envelope", () => {
  it("round-trips any plaintext under any key and associated data", () => {
    fc.assert(
      fc.property(secretKey, bytes(2048), ad, (key, plaintext, associatedData) => {
        const sealed = Effect.runSync(sealEnvelope(key, plaintext, options(associatedData)))
        assert.strictEqual(sealed.length, plaintext.length + envelopeOverhead)
        const opened = Effect.runSync(openEnvelope(key, sealed, options(associatedData)))
        assert.isTrue(equalBytes(opened, plaintext))
      }),
    )
  })

  it.effect("uses a fresh nonce for every seal", () =>
    Effect.gen(function* () {
      const key = yield* SecretKey.generate
      const plaintext = new Uint8Array(16)
      const a = yield* sealEnvelope(key, plaintext)
      const b = yield* sealEnvelope(key, plaintext)
      assert.isFalse(equalBytes(a, b))
    }),
  )

  it("rejects any single flipped bit with a typed error", () => {
    fc.assert(
      fc.property(
        secretKey,
        bytes(256),
        ad,
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (key, plaintext, associatedData, position, bit) => {
          const sealed = Effect.runSync(sealEnvelope(key, plaintext, options(associatedData)))
          const index = position % sealed.length
          sealed[index] = (sealed[index] as number) ^ (1 << bit)
          const error = Effect.runSync(
            Effect.flip(openEnvelope(key, sealed, options(associatedData))),
          )
          if (index < 4) assert.deepInclude(error, { _tag: "InvalidEnvelope", reason: "BadMagic" })
          else if (index === 4) {
            assert.deepInclude(error, { _tag: "InvalidEnvelope", reason: "UnsupportedVersion" })
          } else assert.deepInclude(error, { _tag: "DecryptError", reason: "WrongKeyOrTampered" })
        },
      ),
    )
  })

  it("rejects any truncation with a typed error", () => {
    fc.assert(
      fc.property(secretKey, bytes(256), fc.nat(), (key, plaintext, cut) => {
        const sealed = Effect.runSync(sealEnvelope(key, plaintext))
        const truncated = sealed.subarray(0, cut % sealed.length)
        const error = Effect.runSync(Effect.flip(openEnvelope(key, truncated)))
        assert.isTrue(error instanceof InvalidEnvelope || error instanceof DecryptError)
      }),
    )
  })

  it("does not open under another key", () => {
    fc.assert(
      fc.property(secretKey, secretKey, bytes(256), (key, other, plaintext) => {
        fc.pre(!SecretKey.equals(key, other))
        const sealed = Effect.runSync(sealEnvelope(key, plaintext))
        const error = Effect.runSync(Effect.flip(openEnvelope(other, sealed)))
        assert.deepInclude(error, { _tag: "DecryptError", reason: "WrongKeyOrTampered" })
      }),
    )
  })

  it("does not open with other associated data (a value cannot move to another slot)", () => {
    fc.assert(
      fc.property(secretKey, bytes(64), bytes(32), bytes(32), (key, plaintext, slotA, slotB) => {
        fc.pre(!equalBytes(slotA, slotB))
        const sealed = Effect.runSync(sealEnvelope(key, plaintext, { associatedData: slotA }))
        const exit = Effect.runSyncExit(openEnvelope(key, sealed, { associatedData: slotB }))
        assert.isTrue(Exit.isFailure(exit))
      }),
    )
  })

  it.effect("tells bad magic, unknown version and short input apart", () =>
    Effect.gen(function* () {
      const key = yield* SecretKey.generate
      const sealed = yield* sealEnvelope(key, new Uint8Array(3))
      const open = (bytes: Uint8Array) => Effect.flip(openEnvelope(key, bytes))

      const foreign = sealed.slice()
      foreign[0] = 0x00
      assert.deepInclude(yield* open(foreign), { _tag: "InvalidEnvelope", reason: "BadMagic" })

      const future = sealed.slice()
      future[4] = 2
      assert.deepInclude(yield* open(future), {
        _tag: "InvalidEnvelope",
        reason: "UnsupportedVersion",
        message: "invalid envelope: unsupported version 2",
      })

      assert.deepInclude(yield* open(new Uint8Array(0)), { reason: "TooShort" })
      assert.deepInclude(yield* open(sealed.subarray(0, 5)), { reason: "TooShort" })
      assert.deepInclude(yield* open(sealed.subarray(0, envelopeOverhead - 1)), {
        reason: "TooShort",
      })
    }),
  )
})
