import { assert, describe, it } from "@effect/vitest"
import { SecretKey } from "@save-dweb/crypto"
import { Effect } from "effect"
import fc from "fast-check"
import { NonceCache, signOpen, signOpened, verifyOpen, verifyOpened } from "../src/auth.ts"
import { encodeFrame, MAC_BYTES, openMacOffset } from "../src/frame.ts"

const key = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => Effect.runSync(SecretKey.fromBytes(new Uint8Array(b))))
const bytes = (n: number, max = n) =>
  fc.uint8Array({ minLength: n, maxLength: max }).map((b) => new Uint8Array(b))
const routeId = fc.string({ minLength: 1, maxLength: 60 })

const opening = fc.record({
  end: fc.boolean(),
  window: fc.integer({ min: 1, max: 64 }),
  timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
  nonce: bytes(16),
  sessionId: bytes(16),
  protocol: fc.stringMatching(/^[\x21-\x7e]{1,20}$/),
  payload: bytes(0, 300),
})

type Opening = typeof opening extends fc.Arbitrary<infer T> ? T : never

const signed = (k: SecretKey, route: string, o: Opening) => {
  const frame = encodeFrame({
    _tag: "Open",
    maxFrame: 32_768,
    mac: new Uint8Array(MAC_BYTES),
    ...o,
  })
  const at = openMacOffset(o.protocol.length)
  frame.set(signOpen(k, route, frame, at), at)
  return { frame, at }
}

describe("tunnel authentication", () => {
  it("an opening verifies under its key and route, and under nothing else", () => {
    fc.assert(
      fc.property(
        key,
        key,
        routeId,
        routeId,
        opening,
        fc.nat(),
        (k, other, route, otherRoute, o, at) => {
          fc.pre(route !== otherRoute)
          const { frame, at: macAt } = signed(k, route, o)
          assert.strictEqual(Effect.runSync(verifyOpen([other, k], route, frame, macAt)), 1)
          assert.strictEqual(Effect.runSync(verifyOpen([other], route, frame, macAt)), -1)
          assert.strictEqual(Effect.runSync(verifyOpen([k], otherRoute, frame, macAt)), -1)
          const flipped = frame.slice()
          const i = at % flipped.length
          flipped[i] = (flipped[i] ?? 0) ^ 0x01
          assert.strictEqual(Effect.runSync(verifyOpen([k], route, flipped, macAt)), -1)
        },
      ),
      { numRuns: 300 },
    )
  })

  it("the handler's proof binds key, route, session and nonce", () => {
    fc.assert(
      fc.property(key, key, routeId, bytes(16), bytes(16), (k, other, route, session, nonce) => {
        const proof = signOpened(k, route, session, nonce)
        assert.isTrue(Effect.runSync(verifyOpened(k, route, session, nonce, proof)))
        assert.isFalse(Effect.runSync(verifyOpened(other, route, session, nonce, proof)))
        assert.isFalse(Effect.runSync(verifyOpened(k, `${route}x`, session, nonce, proof)))
        if (!equal(nonce, session)) {
          assert.isFalse(Effect.runSync(verifyOpened(k, route, nonce, session, proof)))
        }
      }),
      { numRuns: 300 },
    )
  })

  it("the nonce cache refuses a replay, a stale timestamp and, when full, anything new", () => {
    const cache = new NonceCache(60_000, 2)
    const n = (i: number) => new Uint8Array(16).fill(i)
    assert.strictEqual(cache.check(n(1), 1_000_000, 1_000_000), "Fresh")
    cache.record(n(1), 1_000_000)
    assert.strictEqual(cache.check(n(1), 1_000_000, 1_000_500), "Replayed")
    assert.strictEqual(cache.check(n(2), 1_000_000 - 60_001, 1_000_000), "Stale")
    assert.strictEqual(cache.check(n(2), 1_000_000 + 60_001, 1_000_000), "Stale")
    cache.record(n(2), 1_000_000)
    assert.strictEqual(cache.check(n(3), 1_000_000, 1_000_000), "Full")
    // Once their timestamps leave the window, old nonces make room (and are stale anyway).
    assert.strictEqual(cache.check(n(3), 1_070_000, 1_070_000), "Fresh")
    assert.strictEqual(cache.size, 0)
  })
})

const equal = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i])
