import { Equal, Result } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodePairingData, encodePairingData } from "../src/pairing-data.ts"
import { pairingLink } from "./arbitraries.ts"

const failureOf = (bytes: Uint8Array): string => {
  const decoded = decodePairingData(bytes)
  return Result.isFailure(decoded) ? decoded.failure : "decoded"
}

describe("pairing data", () => {
  it("decodes what it encodes", () => {
    fc.assert(
      fc.property(pairingLink, ({ entries }) => {
        const decoded = Result.getOrThrow(decodePairingData(encodePairingData(entries)))
        expect(Equal.equals(decoded, entries)).toBe(true)
      }),
      { numRuns: 50 },
    )
  })

  it("refuses every truncation and any trailing byte, without throwing", () => {
    fc.assert(
      fc.property(pairingLink, fc.nat(), fc.integer({ min: 0, max: 255 }), (link, cut, extra) => {
        const bytes = encodePairingData(link.entries)
        expect(failureOf(bytes.subarray(0, cut % bytes.length))).not.toBe("decoded")
        expect(failureOf(Uint8Array.from([...bytes, extra]))).toContain("after the last entry")
      }),
      { numRuns: 50 },
    )
  })

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        decodePairingData(Uint8Array.from([1, ...bytes]))
        decodePairingData(bytes)
      }),
      { numRuns: 300 },
    )
  })

  it("names the entry and field at fault", () => {
    fc.assert(
      fc.property(pairingLink, (link) => {
        const bytes = encodePairingData(link.entries)
        // Entry 1's group key length byte sits at offset 2; claim 35 bytes instead of 36/68.
        const broken = Uint8Array.from(bytes)
        broken[2] = 35
        expect(failureOf(broken)).toMatch(/^entry 1 /)
        const version = Uint8Array.from(bytes)
        version[0] = 2
        expect(failureOf(version)).toBe("format 2 is not supported (supported: 1)")
        const none = Uint8Array.from(bytes)
        none[1] = 0
        expect(failureOf(none)).toBe("0 entries, expected 1 to 64")
      }),
      { numRuns: 20 },
    )
  })

  it("refuses two entries for one group", () => {
    fc.assert(
      fc.property(pairingLink, (link) => {
        const [first] = link.entries
        if (first === undefined) return
        const bytes = encodePairingData([first, first])
        expect(failureOf(bytes)).toBe("entry 2 is for the same group as entry 1")
      }),
      { numRuns: 10 },
    )
  })
})

describe("pairing data record keys", () => {
  it("random crypto kinds in a group or repo record key are accepted only when known, else named with the entry and field", () => {
    fc.assert(
      fc.property(
        pairingLink,
        fc.oneof(fc.constant("VLD0"), fc.stringMatching(/^[A-Z0-9]{4}$/)),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.boolean(),
        fc.boolean(),
        (link, textKind, rawKind, raw, inRepo) => {
          const bytes = encodePairingData(link.entries)
          // Entry 1's group key is the first field (offset 2); its repo key the fifth.
          let at = 2
          if (inRepo) for (let field = 0; field < 4; field++) at += 1 + (bytes[at] ?? 0)
          const kind = raw ? rawKind : Uint8Array.from(textKind, (c) => c.charCodeAt(0))
          const changed = Uint8Array.from(bytes)
          changed.set(kind, at + 1)
          const known = String.fromCharCode(...kind) === "VLD0"
          const outcome = failureOf(changed)
          if (known) expect(outcome).toBe("decoded")
          else
            expect(outcome).toMatch(
              new RegExp(`^entry 1 ${inRepo ? "repo" : "group"} record key: (crypto kind )?`),
            )
          if (!known && /^[A-Z0-9]{4}$/.test(String.fromCharCode(...kind)))
            expect(outcome).toContain(
              `crypto kind ${String.fromCharCode(...kind)} is not supported`,
            )
        },
      ),
      { numRuns: 500 },
    )
  })
})
