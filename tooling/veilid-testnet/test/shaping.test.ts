import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  describeShape,
  isShaped,
  parseLinkShape,
  parseNodeShape,
  ShapingError,
  shapeOf,
  validateShape,
} from "../src/shaping.ts"

describe("link shapes", () => {
  it("parse from tc-style flags", () => {
    expect(parseLinkShape({ delay: "25ms", jitter: "2ms", loss: "0.5%", rate: "10mbit" })).toEqual({
      delayMs: 25,
      jitterMs: 2,
      lossPercent: 0.5,
      rateMbit: 10,
    })
    expect(parseLinkShape({ delay: "0.15s", rate: "512kbit" })).toEqual({
      delayMs: 150,
      rateMbit: 0.512,
    })
    expect(parseLinkShape({ delay: "40", loss: "1", rate: "1gbit" })).toEqual({
      delayMs: 40,
      lossPercent: 1,
      rateMbit: 1000,
    })
    expect(parseLinkShape({})).toEqual({})
  })

  it("read back what they were written as, in every unit", () => {
    const amount = fc.integer({ min: 1, max: 50_000 }).map((n) => n / 10)
    fc.assert(
      fc.property(
        amount,
        fc.constantFrom(["us", 0.001], ["ms", 1], ["s", 1000]),
        (n, [unit, ms]) => {
          if (n * (ms as number) > 60_000) return
          const parsed = parseLinkShape({ delay: `${n}${unit}`, jitter: `${n}${unit}` })
          expect(parsed.delayMs).toBeCloseTo(n * (ms as number), 9)
          expect(parsed.jitterMs).toBeCloseTo(n * (ms as number), 9)
        },
      ),
    )
    fc.assert(
      fc.property(
        amount,
        fc.constantFrom(["kbit", 1e-3], ["mbit", 1], ["gbit", 1000]),
        (n, [unit, mbit]) => {
          if (n * (mbit as number) > 100_000) return
          expect(parseLinkShape({ rate: `${n}${unit}` }).rateMbit).toBeCloseTo(
            n * (mbit as number),
            9,
          )
        },
      ),
    )
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), (tenths) => {
        expect(parseLinkShape({ loss: `${tenths / 10}%` }).lossPercent).toBe(tenths / 10)
      }),
    )
  })

  it("refuse what no link does", () => {
    expect(() => parseLinkShape({ delay: "fast" })).toThrow(ShapingError)
    expect(() => parseLinkShape({ rate: "10 furlongs" })).toThrow(ShapingError)
    expect(() => parseLinkShape({ loss: "120%" })).toThrow(/lossPercent/)
    expect(() => parseLinkShape({ rate: "0mbit" })).toThrow(/rateMbit/)
    expect(() => validateShape({ delayMs: -1 })).toThrow(/delayMs/)
    expect(() => validateShape({ jitterMs: Number.NaN })).toThrow(/jitterMs/)
  })

  it("take per-node overrides over the common values", () => {
    expect(parseNodeShape("n0:delay=100ms,rate=5mbit")).toEqual([
      "n0",
      { delayMs: 100, rateMbit: 5 },
    ])
    expect(() => parseNodeShape("n0:speed=5")).toThrow(ShapingError)
    expect(() => parseNodeShape("N 0:delay=1ms")).toThrow(ShapingError)
    const network = { delayMs: 25, rateMbit: 10, nodes: { n0: { delayMs: 75 } } }
    expect(shapeOf(network, "n0")).toEqual({ delayMs: 75, rateMbit: 10 })
    expect(shapeOf(network, "alice")).toEqual({ delayMs: 25, rateMbit: 10 })
    expect(shapeOf(undefined, "alice")).toEqual({})
  })

  it("say whether they change anything, and how", () => {
    expect(isShaped({})).toBe(false)
    expect(isShaped({ delayMs: 0, lossPercent: 0 })).toBe(false)
    expect(isShaped({ rateMbit: 10 })).toBe(true)
    expect(describeShape({ delayMs: 25, jitterMs: 2, lossPercent: 0.5, rateMbit: 10 })).toBe(
      "delay 25 ms, jitter ±2 ms, loss 0.5 %, rate 10 Mbit/s",
    )
    expect(describeShape({})).toBe("unshaped")
  })
})
