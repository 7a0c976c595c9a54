import { assert, describe, it } from "@effect/vitest"
import { SecretKey, sealEnvelope } from "@save-dweb/crypto"
import { Effect, Result, Schema } from "effect"
import fc from "fast-check"
import { checkCbor, MAX_BIGNUM_BYTES, MAX_CBOR_DEPTH } from "../src/cbor-check.ts"
import { associatedData, encodeCbor, MAX_SUBKEY_SIZE, openValue, sealValue } from "../src/codec.ts"

const key = Effect.runSync(SecretKey.generate)
const recordKey = "VLD0:C1sZYU6MjsEcCTM4inKPTf9c94qh7BzeUt4W0CrkY-U"
const context = { key: recordKey, subkey: 2, encryptionKey: key }

const hex = (text: string) => Uint8Array.from(Buffer.from(text.replaceAll(" ", ""), "hex"))
const repeat = (text: string, times: number) => text.repeat(times)

/** What a reader gets for `plaintext` written into a slot by a holder of the values key. */
const read = (plaintext: Uint8Array) =>
  Effect.runSync(
    sealEnvelope(key, plaintext, { associatedData: associatedData(recordKey, 2) }).pipe(
      Effect.flatMap((sealed) => openValue(Schema.Unknown, sealed, context)),
      Effect.match({
        onFailure: (error) => ({ ok: false as const, error }),
        onSuccess: (value) => ({ ok: true as const, value }),
      }),
    ),
  )

const refusal = (bytes: Uint8Array): string | undefined => {
  const checked = checkCbor(bytes)
  return Result.isFailure(checked) ? checked.failure.reason : undefined
}

// hex, and a part of the reason the check gives.
const malformed: ReadonlyArray<readonly [string, string, string]> = [
  ["a lone indefinite array (cbor-x spins ~7 s on it)", "9f", "ends inside"],
  ["a lone indefinite map", "bf", "ends inside"],
  ["an unclosed indefinite array with items", "9f 01 02", "ends inside"],
  ["no bytes at all", "", "no data item"],
  ["a uint8 head without its byte", "18", "head"],
  ["a uint16 head without its bytes", "19 01", "head"],
  ["a uint32 head short by one", "1a 00 00 00", "head"],
  ["a uint64 head short by one", "1b 00 00 00 00 00 00 00", "head"],
  ["a float64 head short by one", "fb 3f f0 00 00 00 00 00", "head"],
  ["a byte string longer than the input", "5a ff ff ff ff 00", "string length"],
  ["a text string one byte short", "62 61", "string length"],
  ["a byte string with a 64-bit length", "5b 00 00 00 01 00 00 00 00", "string length"],
  ["an array longer than the input", "9a ff ff ff ff 00", "array length"],
  ["an array with a 2^32 length", "9b 00 00 00 01 00 00 00 00", "array length"],
  ["an array with fewer bytes left than items", "83 01 02", "array length"],
  ["an array short of its last item", "82 81 00", "ends inside"],
  ["a map longer than the input", "ba 7f ff ff ff 00", "map length"],
  ["a map with fewer bytes left than keys and values", "a1 01", "map length"],
  ["a map key without its value", "a1 81 00", "ends inside"],
  ["a tag without its item", "c1", "ends inside"],
  ["reserved additional information 28", "1c", "reserved"],
  ["reserved additional information 29", "3d", "reserved"],
  ["reserved additional information 30", "5e", "reserved"],
  ["reserved additional information in major type 7", "fc", "reserved"],
  ["an indefinite unsigned integer", "1f", "no indefinite"],
  ["an indefinite negative integer", "3f", "no indefinite"],
  ["an indefinite tag", "df", "no indefinite"],
  ["a break at the top", "ff", "break outside"],
  ["a break in a definite array", "82 01 ff", "break outside"],
  ["a break as a tag's item", "c1 ff", "break outside"],
  ["a break after an indefinite array closed", "9f ff ff", "bytes after"],
  ["an indefinite map ending after a key", "bf 01 ff", "after a key"],
  ["an indefinite byte string inside another", "5f 5f 41 00 ff ff", "definite-length strings"],
  ["an indefinite text string inside another", "7f 7f 61 61 ff ff", "definite-length strings"],
  ["a text chunk in a byte string", "5f 61 61 ff", "definite-length strings"],
  ["an integer chunk in a text string", "7f 01 ff", "definite-length strings"],
  ["a simple value below 32 in two bytes", "f8 10", "simple value"],
  ["two top-level items", "00 00", "bytes after"],
  ["an empty array then a byte", "80 00", "bytes after"],
  ["a string then trailing zeros", "61 61 00 00", "bytes after"],
  ["arrays nested one deeper than the limit", `${repeat("81", MAX_CBOR_DEPTH + 1)}00`, "deeper"],
  ["indefinite arrays nested too deep", `${repeat("9f", MAX_CBOR_DEPTH + 1)}`, "deeper"],
  ["tags nested too deep", `${repeat("d8 64", MAX_CBOR_DEPTH + 1)}00`, "deeper"],
  ["maps nested too deep", `${repeat("a1 00", MAX_CBOR_DEPTH + 1)}00`, "deeper"],
  ["value sharing (tag 28)", "d8 1c 81 00", "tag 28"],
  ["a shared reference (tag 29)", "82 d8 1c 81 00 d8 1d 00", "tag 28"],
  ["a lone shared reference (tag 29)", "d8 1d 00", "tag 29"],
  ["a packed CBOR table (tag 51)", "d8 33 84 80 80 80 00", "tag 51"],
  ["a packed reference (tag 6)", "c6 00", "tag 6"],
  ["a cbor-x record (tag 105)", "d8 69 82 00 80", "tag 105"],
  ["a cbor-x record definition (tag 0xdffe)", "d9 df fe 80", "tag 57342"],
  ["tag 259 on something other than a map", "d9 01 03 01", "259"],
  ["tag 259 at the end of the input", "d9 01 03", "259"],
  ["a lead byte whose continuation lies in the next item", "82 61 e0 43 41 9f 41", "UTF-8"],
  ["a lone continuation byte", "61 80", "UTF-8"],
  ["an overlong encoding", "62 c0 80", "UTF-8"],
  ["a sequence cut by the string's end", "62 e2 82", "UTF-8"],
  ["a code point past U+10FFFF", "64 f4 90 80 80", "UTF-8"],
  ["a byte that is never UTF-8", "61 ff", "UTF-8"],
  ["a map key that is not UTF-8", "a1 61 c3 00", "UTF-8"],
  ["a text chunk that is not UTF-8", "7f 61 e2 ff", "UTF-8"],
  [
    "a bignum over the limit",
    `c2 59 ${(MAX_BIGNUM_BYTES + 1).toString(16).padStart(4, "0")} ${repeat("ff", MAX_BIGNUM_BYTES + 1)}`,
    "bignum",
  ],
]

describe("CBOR well-formedness check", () => {
  it("a value of only 0x9f is RecordInvalid, not 7 s of CPU", () => {
    const result = read(hex("9f"))
    assert.isFalse(result.ok)
    if (!result.ok) {
      assert.deepInclude(result.error, { _tag: "RecordInvalid", reason: "Cbor", subkey: 2 })
      assert.include(result.error.message, "not well-formed CBOR")
    }
  })

  for (const [name, bytes, reason] of malformed) {
    it(`refuses ${name}: RecordInvalid on read`, () => {
      const input = hex(bytes)
      assert.include(refusal(input) ?? "accepted", reason)
      const result = read(input)
      assert.isFalse(result.ok)
      if (!result.ok) assert.deepInclude(result.error, { _tag: "RecordInvalid", reason: "Cbor" })
    })
  }

  it("accepts edge encodings that are well-formed", () => {
    const wellFormed = [
      "00",
      "1b ff ff ff ff ff ff ff ff",
      "3b ff ff ff ff ff ff ff ff",
      "f7",
      "f8 20",
      "fb 7f f8 00 00 00 00 00 00",
      "40",
      "60",
      "80",
      "a0",
      "9f ff",
      "bf ff",
      "9f 9f ff 80 ff",
      "bf 61 61 9f ff ff",
      "5f ff",
      "5f 41 00 42 01 02 ff",
      "7f 61 61 ff",
      "64 f0 9f 98 80",
      "63 ed a0 80",
      "64 f4 8f bf bf",
      "c1 1a 00 00 00 00",
      "d9 01 03 a1 01 02",
      "d9 01 03 bf ff",
      `${repeat("81", MAX_CBOR_DEPTH)}00`,
      `${repeat("d8 64", MAX_CBOR_DEPTH)}00`,
      `c2 59 ${MAX_BIGNUM_BYTES.toString(16).padStart(4, "0")} ${repeat("ff", MAX_BIGNUM_BYTES)}`,
    ]
    for (const bytes of wellFormed) assert.isUndefined(refusal(hex(bytes)), bytes)
  })

  it("reads what cbor-x reads of well-formed edge cases, and refuses the rest with a typed error", () => {
    assert.deepInclude(read(hex("9f 01 9f ff ff")), { ok: true, value: [1, []] })
    assert.deepInclude(read(hex("d9 01 03 a1 01 02")), { ok: true, value: new Map([[1, 2]]) })
    // Well-formed, but cbor-x reads no indefinite-length strings.
    const chunked = read(hex("5f 41 00 ff"))
    assert.isFalse(chunked.ok)
    if (!chunked.ok) assert.deepInclude(chunked.error, { _tag: "RecordInvalid", reason: "Cbor" })
  })

  it("never writes what readers refuse", () => {
    let nested: unknown = 0
    for (let i = 0; i <= MAX_CBOR_DEPTH; i++) nested = [nested]
    const error = Effect.runSync(
      Effect.flip(sealValue(Schema.Unknown, nested, { ...context, limit: MAX_SUBKEY_SIZE })),
    )
    assert.deepInclude(error, { _tag: "RecordInvalid", reason: "Cbor" })
    assert.include(error.message, "deeper")
  })
})

// Any UTF-16, lone surrogates included.
const anyString = fc.string({ unit: fc.nat({ max: 0xffff }).map((c) => String.fromCharCode(c)) })

// A JSON-like tree with the extras Schemas encode to: byte strings, big and small
// integers, floats, strings of any UTF-16.
const { tree } = fc.letrec<{ tree: unknown }>((self) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.jsonValue({ maxDepth: 2 }),
    fc.uint8Array({ maxLength: 64 }).map((b) => new Uint8Array(b)),
    fc.bigInt({ min: -(1n << 200n), max: 1n << 200n }),
    fc.double(),
    anyString,
    fc.array(self("tree"), { maxLength: 5 }),
    fc.dictionary(anyString, self("tree"), { maxKeys: 5 }),
  ),
}))

// Byte-level damage to a valid encoding: truncation, overwrite, insertion, deletion.
const damaged = fc
  .tuple(
    tree.map((v) => encodeCbor(v)),
    fc.array(
      fc.tuple(fc.constantFrom("cut", "set", "insert", "delete"), fc.nat(), fc.nat({ max: 255 })),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([encoded, edits]) => {
    let bytes = Array.from(encoded)
    for (const [edit, at, byte] of edits) {
      const i = bytes.length === 0 ? 0 : at % bytes.length
      if (edit === "cut") bytes = bytes.slice(0, i)
      else if (edit === "set") bytes[i] = byte
      else if (edit === "insert") bytes.splice(i, 0, byte)
      else bytes.splice(i, 1)
    }
    return Uint8Array.from(bytes)
  })

// Random bytes weighted towards CBOR heads that open things or carry lengths.
const heads = fc.array(
  fc.oneof(
    fc.nat({ max: 255 }),
    fc.constantFrom(0x5f, 0x7f, 0x9f, 0xbf, 0xff, 0x18, 0x19, 0x1a, 0x1b, 0x5a, 0x9a, 0xba, 0xd8),
  ),
  { maxLength: 48 },
)

const settles = (bytes: Uint8Array) => {
  const result = read(bytes)
  if (!result.ok) assert.deepInclude(result.error, { _tag: "RecordInvalid", reason: "Cbor" })
}

describe("CBOR check properties", () => {
  it("cbor-x's encoding of any JSON-like value passes the check", () => {
    fc.assert(
      fc.property(tree, (v) => {
        assert.isUndefined(refusal(encodeCbor(v)))
      }),
      { numRuns: 2000 },
    )
  })

  it("text strings pass exactly when they are UTF-8 (surrogates aside)", () => {
    const utf8 = new TextDecoder("utf-8", { fatal: true })
    // 0xED starts the surrogates, which the check lets through and TextDecoder does not.
    const byte = fc.nat({ max: 255 }).filter((b) => b !== 0xed)
    const utf8ish = fc.oneof(
      fc.array(byte, { maxLength: 23 }),
      anyString.map((t) =>
        Array.from(Buffer.from(t, "utf8"))
          .filter((b) => b !== 0xed)
          .slice(0, 23),
      ),
    )
    fc.assert(
      fc.property(utf8ish, (content) => {
        let decodes = true
        try {
          utf8.decode(Uint8Array.from(content))
        } catch {
          decodes = false
        }
        const refused = refusal(Uint8Array.from([0x60 + content.length, ...content]))
        assert.strictEqual(refused === undefined, decodes, refused)
      }),
      { numRuns: 2000 },
    )
  })

  it("damaged encodings read as a value or RecordInvalid", () => {
    fc.assert(fc.property(damaged, settles), { numRuns: 2000 })
  })

  it("random bytes read as a value or RecordInvalid", () => {
    fc.assert(
      fc.property(heads, (b) => settles(Uint8Array.from(b))),
      { numRuns: 2000 },
    )
  })

  it("whatever the check accepts, cbor-x reads without running past the end", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          damaged,
          heads.map((b) => Uint8Array.from(b)),
        ),
        (bytes) => {
          if (refusal(bytes) !== undefined) return
          const result = read(bytes)
          if (!result.ok) assert.notInclude(result.error.message, "end of CBOR data")
        },
      ),
      { numRuns: 2000 },
    )
  })
})
