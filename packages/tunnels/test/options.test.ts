import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { DEFAULT_WINDOW, resolveOptions, sizeWindow } from "../src/options.ts"

const MiB = 1024 * 1024

describe("window sizing", () => {
  it("an unset window is sized per call; a set one is kept", () => {
    assert.isUndefined(resolveOptions().window)
    assert.strictEqual(resolveOptions({ window: 4 }).window, 4)
    assert.strictEqual(resolveOptions().maxWindow, 128)
  })

  it("a LAN call keeps the smallest window; WAN calls get enough frames for the rate", () => {
    assert.strictEqual(sizeWindow(12, 32_768, 16 * MiB, 128), DEFAULT_WINDOW)
    // 170 ms per call (50 ms round trip through private routes): 16 MiB/s needs 87 frames.
    assert.strictEqual(sizeWindow(170, 32_768, 16 * MiB, 128), 88)
    assert.strictEqual(sizeWindow(470, 32_768, 16 * MiB, 128), 128)
    // A peer that grants less bounds it.
    assert.strictEqual(sizeWindow(470, 32_768, 16 * MiB, 8), 8)
  })

  it("the window stays between the floor and the cap and grows with the call time", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 10_000, noNaN: true }),
        fc.double({ min: 0, max: 10_000, noNaN: true }),
        fc.integer({ min: 256, max: 32_768 }),
        fc.integer({ min: 1, max: 0xffff }),
        (a, b, frame, cap) => {
          const [short, long] = a < b ? [a, b] : [b, a]
          const w = sizeWindow(short, frame, 16 * MiB, cap)
          assert.isAtMost(w, cap)
          assert.isAtLeast(w, Math.min(cap, DEFAULT_WINDOW))
          assert.isAtLeast(sizeWindow(long, frame, 16 * MiB, cap), w)
        },
      ),
    )
  })
})
