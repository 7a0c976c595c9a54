import { assert, describe, it } from "@effect/vitest"
import { MIN_RESEND_MILLIS, makePacing } from "../src/pacing.ts"

/** A pacing on a clock the test moves. */
const withClock = () => {
  let t = 0
  const pacing = makePacing(() => t)
  return {
    pacing,
    advance: (millis: number) => {
      t += millis
    },
  }
}

describe("pacing", () => {
  it("resends after a few smoothed call times, at least 1 s, doubling per copy", () => {
    const { pacing } = withClock()
    assert.strictEqual(pacing.resendAfter(1), 3 * MIN_RESEND_MILLIS)
    for (let i = 0; i < 50; i++) pacing.sample(100, 0)
    assert.strictEqual(pacing.resendAfter(1), MIN_RESEND_MILLIS)
    // Steady 600 ms calls: the deviation dies down; twice the call time is the least.
    for (let i = 0; i < 200; i++) pacing.sample(600, 0)
    assert.approximately(pacing.resendAfter(1), 1_200, 1)
    for (let i = 0; i < 200; i++) pacing.sample(i % 2 === 0 ? 500 : 1_500, 0)
    const jittery = pacing.resendAfter(1)
    assert.isAbove(jittery, 2_500)
    assert.strictEqual(pacing.resendAfter(2), 2 * jittery)
    assert.strictEqual(pacing.shortestCall(), 100)
  })

  it("a copy counts as lost once a frame sent after it was answered and its reply is late", () => {
    const { pacing, advance } = withClock()
    pacing.sample(400, 0)
    // A copy sent at 1,000 ms; nothing sent later is answered: no evidence, however long.
    advance(5_000)
    assert.isFalse(pacing.lost(1_000))
    // A frame sent at 1,100 ms answered 500 ms later. The copy is lost once it is older than
    // that call plus half the shortest call (200 ms): at 1,700 ms.
    const later = withClock()
    later.pacing.sample(400, 0)
    later.advance(1_600)
    later.pacing.sample(500, 1_100)
    assert.isFalse(later.pacing.lost(1_000))
    later.advance(99)
    assert.isFalse(later.pacing.lost(1_000))
    later.advance(2)
    assert.isTrue(later.pacing.lost(1_000))
    // A copy sent after that frame is not shown lost by it.
    assert.isFalse(later.pacing.lost(1_200))
    // After a spurious resend, replies may be later than that: twice the allowance.
    later.pacing.spurious()
    assert.isFalse(later.pacing.lost(1_000))
    later.advance(200)
    assert.isTrue(later.pacing.lost(1_000))
  })

  it("the window follows the delivery rate times the shortest call, and grows while it keeps up", () => {
    const { pacing, advance } = withClock()
    assert.isUndefined(pacing.window())
    pacing.sample(100, 0)
    // A path that delivers one frame every 10 ms, whatever is in flight: 10 frames per call.
    const marks = Array.from({ length: 40 }, () => pacing.mark())
    for (const mark of marks) {
      advance(10)
      pacing.delivered(mark)
    }
    const capped = pacing.window() ?? 0
    assert.isAtLeast(capped, 10)
    assert.isAtMost(capped, 10 * 1.5 + 3)

    // 40 frames in flight answered together after one call time: the path keeps up, so the
    // window allows more than was in flight.
    const fast = withClock()
    fast.pacing.sample(100, 0)
    const burst = Array.from({ length: 40 }, () => fast.pacing.mark())
    fast.advance(100)
    for (const mark of burst) fast.pacing.delivered(mark)
    assert.isAbove(fast.pacing.window() ?? 0, 40)
  })

  it("forgets a high rate after some call times", () => {
    const { pacing, advance } = withClock()
    pacing.sample(100, 0)
    const burst = Array.from({ length: 40 }, () => pacing.mark())
    advance(100)
    for (const mark of burst) pacing.delivered(mark)
    const high = pacing.window() ?? 0
    // Then one frame per call time, for long.
    for (let i = 0; i < 30; i++) {
      const mark = pacing.mark()
      advance(100)
      pacing.delivered(mark)
    }
    assert.isBelow(pacing.window() ?? 0, high / 4)
  })
})
