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
