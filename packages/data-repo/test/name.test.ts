// File names: one path segment, NFC, no control or bidi-override characters, 1..255 UTF-8 bytes.
import { assert, describe, it } from "@effect/vitest"
import { MemoryDhtNetwork } from "@save-dweb/dht-records"
import { Effect, Stream } from "effect"
import fc from "fast-check"
import { fileNameProblem, MAX_FILE_NAME_BYTES, validateFileName } from "../src/index.ts"
import { bytesOf, failureOf, participant } from "./support.ts"

const utf8 = new TextEncoder()

/** Embeddings, overrides and isolates: the characters that make a name show as another. */
const bidiOverrides = [
  "\u202A",
  "\u202B",
  "\u202C",
  "\u202D",
  "\u202E",
  "\u2066",
  "\u2067",
  "\u2068",
  "\u2069",
]

/**
 * What an accepted name must never be: anything a file system reads as more than one
 * entry, or that does not survive UTF-8 (a lone surrogate).
 */
const escapes = (name: string) =>
  name === "" ||
  new TextDecoder().decode(utf8.encode(name)) !== name ||
  name === "." ||
  name === ".." ||
  name.includes("/") ||
  name.includes("\\") ||
  [...name].some((c) => {
    const cp = c.codePointAt(0) ?? 0
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp === 0x2028 || cp === 0x2029
  }) ||
  bidiOverrides.some((c) => name.includes(c)) ||
  name.normalize("NFC") !== name ||
  utf8.encode(name).length > MAX_FILE_NAME_BYTES

/** Strings rich in what could go wrong: separators, dots, controls, combining marks, surrogates. */
const nameLike = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 300 }),
  fc.string({ unit: "binary", maxLength: 80 }),
  fc
    .array(
      fc.constantFrom(
        "..",
        ".",
        "/",
        "\\",
        "a",
        "é",
        "e\u0301",
        "\u0000",
        "\n",
        "\u0085",
        "\ud800",
        "😀",
        "C:",
        "%2e",
        "\u2028",
        "\u202E",
        "\u2067",
        "gpj.exe",
      ),
      { maxLength: 12 },
    )
    .map((parts) => parts.join("")),
  fc.nat({ max: 300 }).map((n) => "x".repeat(n)),
)

describe("file names", () => {
  it("refuses each kind of bad name with its reason", () => {
    const cases: ReadonlyArray<[string, string | undefined]> = [
      ["photo.jpg", undefined],
      ["..hidden..", undefined],
      ["héllo wörld 😀.txt", undefined],
      ["", "Empty"],
      [".", "DotSegment"],
      ["..", "DotSegment"],
      ["../etc/passwd", "PathSeparator"],
      ["a/b", "PathSeparator"],
      ["a\\b", "PathSeparator"],
      ["line\nbreak", "ControlCharacter"],
      ["nul\u0000", "ControlCharacter"],
      ["c1\u009b", "ControlCharacter"],
      ["line\u2028separator", "ControlCharacter"],
      ["\u202Egpj.exe", "BidiOverride"],
      ["a\u2066b\u2069", "BidiOverride"],
      ["\u200Fmark", undefined],
      ["e\u0301", "NotNormalized"],
      ["\ud800x", "LoneSurrogate"],
      ["x".repeat(255), undefined],
      ["x".repeat(256), "TooLong"],
      ["é".repeat(128), "TooLong"],
    ]
    for (const [name, reason] of cases)
      assert.strictEqual(fileNameProblem(name), reason, JSON.stringify(name))
  })

  it("any string is either a safe single segment or an InvalidFileName", () => {
    fc.assert(
      fc.property(nameLike, (name) => {
        const result = Effect.runSync(Effect.result(validateFileName(name)))
        if (result._tag === "Success") {
          assert.isFalse(escapes(name), JSON.stringify(name))
          assert.strictEqual(result.success, name)
        } else {
          assert.strictEqual(result.failure._tag, "InvalidFileName")
          assert.strictEqual(result.failure.name, name)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it("a name with any bidi override or control character, anywhere, is refused with its reason", () => {
    const safe = fc
      .string({ unit: "grapheme-ascii", maxLength: 40 })
      .filter((s) => !/[\p{Cc}/\\]/u.test(s))
    const bad = fc.oneof(
      fc.constantFrom(...bidiOverrides).map((c) => [c, "BidiOverride"] as const),
      fc
        .oneof(
          fc.integer({ min: 0, max: 0x1f }),
          fc.integer({ min: 0x7f, max: 0x9f }),
          fc.constantFrom(0x2028, 0x2029),
        )
        .map((cp) => [String.fromCodePoint(cp), "ControlCharacter"] as const),
    )
    fc.assert(
      fc.property(safe, bad, safe, (before, [c, reason], after) => {
        const name = `${before}${c}${after}`
        const result = Effect.runSync(Effect.result(validateFileName(name)))
        assert.strictEqual(result._tag, "Failure", JSON.stringify(name))
        if (result._tag === "Failure") {
          assert.strictEqual(result.failure.reason, reason)
          assert.include(result.failure.message, reason)
        }
      }),
      { numRuns: 1000 },
    )
  })

  it.live("a repo writes nothing under a bad name, and reads back any accepted one", () =>
    Effect.gen(function* () {
      const net = yield* MemoryDhtNetwork.make()
      const alice = yield* participant(net)
      const group = yield* alice.groups.create("g", { memberName: "Alice" })
      const repo = yield* alice.repos.create(group, { name: "Alice" })
      const names = fc.sample(nameLike, { numRuns: 40, seed: 42 })
      for (const name of names) {
        const result = yield* Effect.result(repo.write(name, Stream.make(utf8.encode(name))))
        if (result._tag === "Failure") {
          assert.strictEqual(result.failure._tag, "InvalidFileName")
          assert.isTrue(escapes(name))
        } else {
          assert.deepStrictEqual(yield* bytesOf(repo.read(name)), utf8.encode(name))
        }
      }
      const listed = (yield* repo.list()).map((f) => f.name)
      for (const name of listed) assert.isFalse(escapes(name))
      assert.strictEqual(
        (yield* failureOf(repo.write("../x", Stream.empty)))._tag,
        "InvalidFileName",
      )
      assert.strictEqual((yield* alice.store.list()).length, listed.length === 0 ? 0 : 1)
    }).pipe(Effect.scoped),
  )
})
