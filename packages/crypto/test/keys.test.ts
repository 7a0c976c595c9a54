import { inspect } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, Redacted } from "effect"
import fc from "fast-check"
import { decodeBase64Url, decodeHex } from "../src/bytes.ts"
import {
  Blake3Hash,
  constantTimeEqual,
  deriveKey,
  GroupSecret,
  generateSigningKeyPair,
  Mac,
  mac,
  PublicKey,
  SecretKey,
  Signature,
  SigningSeed,
  sign,
  signingKeyPairFromSeed,
  signingSeedOf,
  toBase64Url,
  toHex,
  verify,
  verifyMac,
} from "../src/index.ts"
import { bytes, secretKey } from "./arbitraries.ts"

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 })

/** Does `printout` show `secret` in any encoding (hex, base64, base64url, decimal list)? */
const reveals = (printout: string, secret: Uint8Array): boolean => {
  const compact = printout.replace(/\s+/g, "")
  return (
    [toHex(secret), toBase64Url(secret), Buffer.from(secret).toString("base64")].some((spelling) =>
      compact.toLowerCase().includes(spelling.toLowerCase()),
    ) || compact.includes(Array.from(secret).join(","))
  )
}

const printouts = (value: unknown): Array<string> => [
  String(value),
  `${value}`,
  JSON.stringify(value),
  JSON.stringify({ nested: { value } }),
  inspect(value),
  inspect({ value }, { depth: 10, showHidden: true }),
]

describe("secrets never print", () => {
  it("GroupSecret, SecretKey, SigningSeed and signing key pairs do not show their bytes", () => {
    fc.assert(
      fc.property(key32, (raw) => {
        const group = Effect.runSync(GroupSecret.fromBytes(raw))
        const derived = deriveKey(group, "dht-values")
        const seed = Effect.runSync(SigningSeed.fromBytes(raw))
        const pair = signingKeyPairFromSeed(seed)
        const cases: Array<[unknown, Uint8Array]> = [
          [group, raw],
          [derived, Redacted.value(derived)],
          [seed, raw],
          [pair, Redacted.value(pair.secretKey)],
          [pair, raw],
        ]
        for (const [value, secret] of cases) {
          for (const printout of printouts(value))
            assert.isFalse(reveals(printout, secret), printout)
        }
      }),
      { numRuns: 30 },
    )
  })

  it.effect("print as <redacted:Kind>", () =>
    Effect.gen(function* () {
      const group = yield* GroupSecret.generate
      assert.strictEqual(String(group), "<redacted:GroupSecret>")
      assert.strictEqual(JSON.stringify({ group }), '{"group":"<redacted:GroupSecret>"}')
      assert.strictEqual(inspect(deriveKey(group, "x")), "<redacted:SecretKey>")
      const pair = yield* generateSigningKeyPair
      assert.include(inspect(pair), "secretKey: <redacted:SigningSecretKey>")
    }),
  )

  it.effect("do not show up in Effect's log formats", () =>
    Effect.gen(function* () {
      const group = yield* GroupSecret.generate
      const key = deriveKey(group, "tunnel-auth")
      const lines: Array<string> = []
      const capture = <O>(format: Logger.Logger<unknown, O>) =>
        Logger.map(format, (out) => {
          lines.push(typeof out === "string" ? out : JSON.stringify(out))
        })
      yield* Effect.log("joined", group, { key }).pipe(
        Effect.provide(
          Logger.layer([
            capture(Logger.formatSimple),
            capture(Logger.formatLogFmt),
            capture(Logger.formatJson),
            capture(Logger.formatStructured),
          ]),
        ),
      )
      assert.lengthOf(lines, 4)
      for (const line of lines) {
        assert.include(line, "redacted")
        assert.isFalse(reveals(line, Redacted.value(group)), line)
        assert.isFalse(reveals(line, Redacted.value(key)), line)
      }
    }),
  )
})

describe("fixed-length types", () => {
  it.effect("reject the wrong length with a typed error saying what was expected", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(GroupSecret.fromBytes(new Uint8Array(31)))
      assert.deepInclude(error, {
        _tag: "InvalidKey",
        kind: "GroupSecret",
        reason: "Length",
        expected: 32,
        actual: 31,
      })
      assert.strictEqual(error.message, "GroupSecret must be 32 bytes, got 31")
      assert.deepInclude(yield* Effect.flip(PublicKey.fromBytes(new Uint8Array(33))), {
        _tag: "InvalidKey",
        kind: "PublicKey",
      })
      assert.deepInclude(yield* Effect.flip(Signature.fromBytes(new Uint8Array(32))), {
        _tag: "InvalidSignature",
        reason: "Length",
      })
      assert.deepInclude(yield* Effect.flip(Mac.fromBytes(new Uint8Array(0))), {
        _tag: "InvalidMac",
        reason: "Length",
      })
      assert.deepInclude(yield* Effect.flip(Blake3Hash.fromHex("00")), {
        _tag: "InvalidHash",
        reason: "Length",
      })
    }),
  )

  it("round-trip through hex and base64url", () => {
    fc.assert(
      fc.property(key32, (raw) => {
        const run = Effect.runSync
        const key = run(SecretKey.fromBytes(raw))
        assert.isTrue(SecretKey.equals(run(SecretKey.fromHex(SecretKey.toHex(key))), key))
        assert.isTrue(
          SecretKey.equals(run(SecretKey.fromBase64Url(SecretKey.toBase64Url(key))), key),
        )
        const hash = run(Blake3Hash.fromBytes(raw))
        assert.isTrue(Blake3Hash.equals(run(Blake3Hash.fromHex(Blake3Hash.toHex(hash))), hash))
        assert.isTrue(
          PublicKey.equals(
            run(PublicKey.fromBase64Url(toBase64Url(raw))),
            run(PublicKey.fromBytes(raw)),
          ),
        )
      }),
    )
  })

  it("copy their input, so later changes to the caller's buffer do not change them", () => {
    const raw = new Uint8Array(32).fill(7)
    const key = Effect.runSync(SecretKey.fromBytes(raw))
    const publicKey = Effect.runSync(PublicKey.fromBytes(raw))
    raw.fill(0)
    assert.strictEqual(Redacted.value(key)[0], 7)
    assert.strictEqual(publicKey[0], 7)
  })
})

describe("strict decoders", () => {
  it("decode what the encoders write", () => {
    fc.assert(
      fc.property(bytes(100), (data) => {
        assert.deepStrictEqual(decodeHex(toHex(data)), data)
        assert.deepStrictEqual(decodeBase64Url(toBase64Url(data)), data)
      }),
    )
  })

  it("reject every other spelling", () => {
    for (const bad of ["0", "0g", "AB", "aB", " 00", "00 ", "0x00"])
      assert.isUndefined(decodeHex(bad), bad)
    for (const bad of ["A", "AA==", "AA=", "a+b/", "ab c", "AB\n", "AR"])
      assert.isUndefined(decodeBase64Url(bad), bad)
    assert.deepStrictEqual(decodeBase64Url("AQ"), Uint8Array.of(1))
    assert.deepStrictEqual(decodeHex(""), new Uint8Array(0))
  })

  it.effect("turn a bad spelling into a typed error", () =>
    Effect.gen(function* () {
      assert.deepInclude(yield* Effect.flip(SecretKey.fromHex("zz")), {
        _tag: "InvalidKey",
        reason: "Encoding",
      })
      assert.deepInclude(yield* Effect.flip(Blake3Hash.fromBase64Url("!!")), {
        _tag: "InvalidHash",
        reason: "Encoding",
      })
      assert.deepInclude(yield* Effect.flip(Signature.fromHex("XY")), {
        _tag: "InvalidSignature",
        reason: "Encoding",
      })
    }),
  )
})

describe("signatures", () => {
  it("verify for the signer's key and message only", () => {
    fc.assert(
      fc.property(key32, key32, bytes(200), fc.nat(), (seedA, seedB, message, position) => {
        fc.pre(!constantTimeEqual(seedA, seedB))
        const a = signingKeyPairFromSeed(Effect.runSync(SigningSeed.fromBytes(seedA)))
        const b = signingKeyPairFromSeed(Effect.runSync(SigningSeed.fromBytes(seedB)))
        const signature = sign(a.secretKey, message)
        Effect.runSync(verify(a.publicKey, message, signature))
        const mismatch = { _tag: "InvalidSignature", reason: "Mismatch" } as const
        assert.deepInclude(
          Effect.runSync(Effect.flip(verify(b.publicKey, message, signature))),
          mismatch,
        )
        const forged = signature.slice() as Signature
        forged[position % 64] = (forged[position % 64] as number) ^ 1
        assert.deepInclude(
          Effect.runSync(Effect.flip(verify(a.publicKey, message, forged))),
          mismatch,
        )
        if (message.length > 0) {
          const altered = message.slice()
          altered[position % message.length] = (altered[position % message.length] as number) ^ 1
          assert.deepInclude(
            Effect.runSync(Effect.flip(verify(a.publicKey, altered, signature))),
            mismatch,
          )
        }
      }),
      { numRuns: 50 },
    )
  })

  it.effect("keep a generated key pair's seed, which gives back the same pair", () =>
    Effect.gen(function* () {
      const pair = yield* generateSigningKeyPair
      const again = signingKeyPairFromSeed(signingSeedOf(pair.secretKey))
      assert.isTrue(PublicKey.equals(again.publicKey, pair.publicKey))
    }),
  )
})

describe("MACs", () => {
  it("verify for the same key and message only", () => {
    fc.assert(
      fc.property(secretKey, secretKey, bytes(200), fc.nat(), (key, other, message, position) => {
        fc.pre(!SecretKey.equals(key, other))
        const tag = mac(key, message)
        Effect.runSync(verifyMac(key, message, tag))
        const mismatch = { _tag: "InvalidMac", reason: "Mismatch" } as const
        assert.deepInclude(Effect.runSync(Effect.flip(verifyMac(other, message, tag))), mismatch)
        const forged = tag.slice() as Mac
        forged[position % 32] = (forged[position % 32] as number) ^ 1
        assert.deepInclude(Effect.runSync(Effect.flip(verifyMac(key, message, forged))), mismatch)
      }),
    )
  })

  it("compares in constant time and tells lengths apart", () => {
    assert.isTrue(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2)))
    assert.isFalse(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3)))
    assert.isFalse(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3)))
    assert.isTrue(constantTimeEqual(new Uint8Array(0), new Uint8Array(0)))
  })
})
