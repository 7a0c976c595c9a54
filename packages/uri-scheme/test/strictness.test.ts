import { Effect, Exit, Redacted, Result } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { encodeBase64Url } from "../src/base64url.ts"
import {
  formatLink,
  GroupInvite,
  InvalidLink,
  isLinkError,
  type LinkError,
  parseGroupInvite,
  parseLink,
  parseLinkResult,
  parseLinkSync,
  ReadCapability,
  WriteCapability,
} from "../src/index.ts"
import { encodePairingData } from "../src/pairing-data.ts"
import { fake, fakeKey, link, pairingLink } from "./arbitraries.ts"

const errorOf = (text: string): LinkError => {
  const result = parseLinkResult(text)
  if (Result.isSuccess(result)) throw new Error(`expected ${text} to be refused`)
  return result.failure
}

const writeLink = formatLink(
  new GroupInvite({
    group: fakeKey(0),
    capability: new WriteCapability({
      groupSecret: Redacted.make(fake(0x55)),
      slot: 3,
      writerSeed: Redacted.make(fake(0xaa)),
    }),
    name: "Family photos",
  }),
)

const readLink = formatLink(
  new GroupInvite({
    group: fakeKey(0),
    capability: new ReadCapability({ groupSecret: Redacted.make(fake(0x55)) }),
  }),
)

const withParam = (text: string, name: string, value: string): string =>
  text.replace(new RegExp(`([?&]${name}=)[^&]*`), `$1${value}`)

/** What the parser reads once it has removed what it forgives. */
const canonical = (text: string): string => {
  let t = text.trim()
  if (t.startsWith("<") && t.endsWith(">")) t = t.slice(1, -1).trim()
  return t.slice(0, 10).toLowerCase() + t.slice(10)
}

const interesting = fc.constantFrom(
  ..."Aa9-_=&?%:<>#/ \t\n+.~é\u0000\u202eZ",
  "%20",
  "%2",
  "&v=1",
  "&name=x",
  "&wkey=",
)

type Mutation = (text: string) => string

const splitLink = (text: string): [string, Array<string>] => {
  const q = text.indexOf("?")
  return q < 0 ? [text, []] : [text.slice(0, q), text.slice(q + 1).split("&")]
}

const joinLink = (head: string, params: ReadonlyArray<string>): string =>
  `${head}?${params.join("&")}`

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), interesting).map(
    ([at, c]): Mutation =>
      (t) => {
        const i = at % (t.length + 1)
        return t.slice(0, i) + c + t.slice(i + 1)
      },
  ),
  fc.tuple(fc.nat(), interesting).map(
    ([at, c]): Mutation =>
      (t) => {
        const i = at % (t.length + 1)
        return t.slice(0, i) + c + t.slice(i)
      },
  ),
  fc.nat().map(
    (at): Mutation =>
      (t) => {
        const i = at % (t.length + 1)
        return t.slice(0, i) + t.slice(i + 1)
      },
  ),
  fc.tuple(fc.nat(), fc.nat()).map(
    ([a, b]): Mutation =>
      (t) => {
        const [head, params] = splitLink(t)
        const copy = params[a % Math.max(params.length, 1)] ?? ""
        params.splice(b % (params.length + 1), 0, copy)
        return joinLink(head, params)
      },
  ),
  fc.nat().map(
    (a): Mutation =>
      (t) => {
        const [head, params] = splitLink(t)
        params.splice(a % Math.max(params.length, 1), 1)
        return joinLink(head, params)
      },
  ),
  fc.tuple(fc.nat(), fc.nat()).map(
    ([a, b]): Mutation =>
      (t) => {
        const [head, params] = splitLink(t)
        const i = a % Math.max(params.length, 1)
        const j = b % Math.max(params.length, 1)
        const x = params[i] ?? ""
        params[i] = params[j] ?? ""
        params[j] = x
        return joinLink(head, params)
      },
  ),
  fc.constantFrom("0", "1", "2", "01", "", "1.0", "99999999999", " 1").map(
    (v): Mutation =>
      (t) =>
        withParam(t, "v", v),
  ),
  fc.constantFrom("replicate", "read", "write", "admin", "READ").map(
    (cap): Mutation =>
      (t) =>
        withParam(t, "cap", cap),
  ),
  fc.constantFrom("invite", "backup", "pair", "", "Invite", "//invite").map(
    (kind): Mutation =>
      (t) =>
        t.replace(/^save\+dweb:[^?]*/, `save+dweb:${kind}`),
  ),
  fc.constantFrom(
    (t: string) => ` ${t}\n`,
    (t: string) => `<${t}>`,
    (t: string) => t.toUpperCase(),
    (t: string) => `${t}#fragment`,
  ),
)

const expectTypedOutcome = (text: string): void => {
  const result = parseLinkResult(text)
  if (Result.isFailure(result)) {
    expect(isLinkError(result.failure)).toBe(true)
    expect(result.failure.part.length).toBeGreaterThan(0)
    if (result.failure._tag === "InvalidLink") {
      expect(result.failure.message).toContain(`${result.failure.part}: `)
    }
  } else {
    // A mutant that parses must be the canonical text of what it parses to.
    expect(formatLink(result.success)).toBe(canonical(text))
  }
}

describe("strict parsing", () => {
  it("random strings give a typed error or a link, never a throw", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ unit: "binary", maxLength: 100 }),
          fc
            .tuple(
              fc.constantFrom("save+dweb:", "save+dweb:invite?", "save+dweb:pair?v=1&data="),
              fc.string(),
            )
            .map(([a, b]) => a + b),
        ),
        expectTypedOutcome,
      ),
      { numRuns: 1000 },
    )
  })

  it("mutated valid links give a typed error or a canonical link, never a throw", () => {
    fc.assert(
      fc.property(link, fc.array(mutation, { minLength: 1, maxLength: 3 }), (value, mutations) => {
        expectTypedOutcome(mutations.reduce((text, m) => m(text), formatLink(value)))
      }),
      { numRuns: 1500 },
    )
  })

  it("random record keys in every key parameter are accepted only when well formed and of a known kind", () => {
    const keyText = fc.oneof(
      fc.string({ maxLength: 120 }),
      fc
        .tuple(
          fc.oneof(
            fc.constant("VLD0"),
            fc.stringMatching(/^[A-Z0-9]{4}$/),
            fc.string({ maxLength: 6 }),
          ),
          fc.uint8Array({ minLength: 0, maxLength: 40 }),
          fc.option(fc.uint8Array({ minLength: 0, maxLength: 40 }), { nil: undefined }),
        )
        .map(
          ([kind, key, second]) =>
            `${kind}:${encodeBase64Url(key)}${second === undefined ? "" : `:${encodeBase64Url(second)}`}`,
        ),
    )
    const wellFormed = (key: string) => {
      const [kind, ...parts] = key.split(":")
      return (
        kind === "VLD0" &&
        (parts.length === 1 || parts.length === 2) &&
        parts.every(
          (part) =>
            /^[A-Za-z0-9_-]{43}$/.test(part) && Buffer.from(part, "base64url").length === 32,
        )
      )
    }
    const backupLink =
      "save+dweb:backup?v=1&record=VLD0:__________________________________________8&access=d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3c"
    fc.assert(
      fc.property(
        keyText,
        fc.constantFrom(["group", writeLink], ["group", readLink], ["record", backupLink]),
        (key, [param, base]) => {
          const text = withParam(base, param, encodeURIComponent(key).replaceAll("%3A", ":"))
          const result = parseLinkResult(text)
          if (wellFormed(key)) {
            expect(Result.isSuccess(result)).toBe(true)
          } else {
            expect(Result.isFailure(result)).toBe(true)
            if (Result.isFailure(result)) {
              expect(result.failure._tag).toBe("InvalidLink")
              expect(result.failure.part).toBe(param)
            }
          }
        },
      ),
      { numRuns: 1000 },
    )
  })

  it("a record key of a crypto kind this version does not know is refused, naming the kind", () => {
    const error = errorOf(withParam(writeLink, "group", `VLD9:${encodeBase64Url(fake(0))}`))
    expect(error).toMatchObject({ _tag: "InvalidLink", part: "group" })
    expect(error.message).toContain("crypto kind VLD9 is not supported by this version")
  })

  it("a secret of the wrong length is named with its length", () => {
    const error = errorOf(withParam(writeLink, "wkey", encodeBase64Url(new Uint8Array(31))))
    expect(error).toMatchObject({
      _tag: "InvalidLink",
      part: "wkey",
      reason: "expected 32 bytes, got 31",
    })
    expect(error.message).toBe("invalid save+dweb link: wkey: expected 32 bytes, got 31")
  })

  it("an unknown version is refused, naming it and the supported ones", () => {
    const error = errorOf(withParam(writeLink, "v", "2"))
    expect(error).toMatchObject({
      _tag: "UnsupportedVersion",
      version: "2",
      supported: [1],
      part: "v",
    })
    expect(error.message).toContain("version 2 is not supported (supported: 1)")
  })

  it("a newer version is reported as such even with kinds and parameters unknown here", () => {
    expect(errorOf("save+dweb:share?v=3&Files=a;b")).toMatchObject({
      _tag: "UnsupportedVersion",
      version: "3",
    })
  })

  it("the legacy unversioned Rust-backend link is refused as such", () => {
    const legacy = `save+dweb:?dht=VLD0:${encodeBase64Url(fake(1))}&enc=${"ab".repeat(32)}&pk=${"cd".repeat(32)}&sk=${"ef".repeat(32)}`
    const error = errorOf(legacy)
    expect(error._tag).toBe("LegacyLink")
    expect(error.message).toContain("legacy unversioned format")
    // As the Save app shares them: two colons, hex keys, its own `&name=` at the end.
    const asShared = `save+dweb::?dht=${"03".repeat(32)}&enc=${"c2".repeat(32)}&pk=${"cf".repeat(32)}&sk=${"85".repeat(32)}&name=Field+team`
    expect(errorOf(asShared)._tag).toBe("LegacyLink")
    expect(error.message).not.toContain("ef".repeat(32))
  })

  it.each([
    ["missing v", writeLink.replace("v=1&", ""), "v", "missing"],
    ["v not a number", withParam(writeLink, "v", "one"), "v", "not a version number"],
    ["duplicate parameter", `${writeLink}&slot=3`, "slot", "appears more than once"],
    [
      "unknown parameter",
      `${writeLink}&colour=red`,
      "colour",
      "is not a parameter of a write invite",
    ],
    [
      "reordered parameters",
      writeLink.replace(/(slot=3)&(wkey=[^&]*)/, "$2&$1"),
      "slot",
      "out of order",
    ],
    ["missing parameter", writeLink.replace(/&slot=3/, ""), "slot", "missing"],
    ["empty value", withParam(writeLink, "slot", ""), "slot", "is empty"],
    ["no value", writeLink.replace("&slot=3", "&slot"), "slot", "has no value"],
    ["stray &", `${writeLink}&`, "query", "stray '&'"],
    ["padding", withParam(readLink, "secret", `${encodeBase64Url(fake(1))}=`), "secret", "padding"],
    [
      "non-canonical base64url",
      withParam(readLink, "secret", `${"A".repeat(42)}B`),
      "secret",
      "unused bits",
    ],
    ["whitespace inside", readLink.replace("&secret", " &secret"), "group", "is not base64url"],
    ["fragment", `${readLink}#x`, "secret", "is not base64url"],
    ["trailing garbage after a name", `${writeLink}%`, "name", "two upper-case hex digits"],
    ["slot out of range", withParam(writeLink, "slot", "255"), "slot", "0 to 254"],
    ["slot with a leading zero", withParam(writeLink, "slot", "03"), "slot", "decimal integer"],
    [
      "bad group key",
      withParam(writeLink, "group", "VLD0:abc"),
      "group",
      "key: expected 32 bytes, got 2",
    ],
    [
      "group key kind",
      withParam(writeLink, "group", `vld0:${encodeBase64Url(fake(0))}`),
      "group",
      "crypto kind",
    ],
    ["name too long", withParam(writeLink, "name", "x".repeat(129)), "name", "129 bytes"],
    ["name with a newline", withParam(writeLink, "name", "a%0Ab"), "name", "control"],
    ["name with a bidi override", withParam(writeLink, "name", "a%E2%80%AEb"), "name", "bidi"],
    [
      "unknown kind",
      writeLink.replace(":invite?", ":group?"),
      "kind",
      "must be invite, backup or pair",
    ],
    ["missing kind", writeLink.replace(":invite?", ":?"), "kind", "missing"],
    ["authority form", writeLink.replace(":invite?", "://invite?"), "kind", "must be"],
    ["other scheme", writeLink.replace("save+dweb:", "https:"), "scheme", "save+dweb:"],
    ["no query", "save+dweb:invite", "query", "missing"],
    ["unknown capability", withParam(writeLink, "cap", "admin"), "cap", "replicate, read or write"],
    ["over-long invite", `${writeLink}&x=${"a".repeat(4096)}`, "link", "at most 4096 characters"],
    ["huge input", "x".repeat(40_000), "link", "longer than"],
  ])("%s is refused, naming the part", (_, text, part, reason) => {
    const error = errorOf(text)
    expect(error._tag).toBe("InvalidLink")
    expect(error.part).toBe(part)
    expect(error.reason).toContain(reason)
    expect(error.message).toContain(`${part}: `)
  })

  it("pairing data problems name the data parameter and the entry", () => {
    fc.assert(
      fc.property(pairingLink, (value) => {
        const bytes = encodePairingData(value.entries)
        const truncated = formatLink(value).replace(
          /data=.*/,
          `data=${encodeBase64Url(bytes.subarray(0, bytes.length - 1))}`,
        )
        const error = errorOf(truncated)
        expect(error.part).toBe("data")
        expect(error.reason).toMatch(/^entry \d+ repo owner seed/)
      }),
      { numRuns: 20 },
    )
  })

  it("a link of the wrong kind is refused where one kind is expected", async () => {
    const backup = formatLink(
      new (await import("../src/index.ts")).BackupDescriptor({
        record: fakeKey(1),
        accessSecret: Redacted.make(fake(2)),
      }),
    )
    const exit = Effect.runSyncExit(parseGroupInvite(backup))
    expect(exit).toStrictEqual(
      Exit.fail(new InvalidLink({ part: "kind", reason: "expected an invite link" })),
    )
    expect(Effect.runSync(parseGroupInvite(writeLink))._tag).toBe("GroupInvite")
  })

  it("parseLink fails in the error channel and parseLinkSync throws the same error", () => {
    const text = withParam(writeLink, "v", "7")
    const exit = Effect.runSyncExit(parseLink(text))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(() => parseLinkSync(text)).toThrow("version 7 is not supported")
  })
})
