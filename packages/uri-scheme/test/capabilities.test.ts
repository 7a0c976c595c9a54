import { Result } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { encodeBase64Url } from "../src/base64url.ts"
import { formatLink, type GroupInvite, parseLinkResult, parseLinkSync } from "../src/index.ts"
import { bytes32, groupInvite, slot } from "./arbitraries.ts"

const inviteOfTier = (tag: GroupInvite["capability"]["_tag"]) =>
  groupInvite.filter((invite) => invite.capability._tag === tag)

/** A parameter from another tier, with a value that would be valid there. */
const foreignParam = (names: ReadonlyArray<string>) =>
  fc.tuple(fc.constantFrom(...names), bytes32, slot).map(([name, bytes, n]) => ({
    name,
    value: name === "slot" ? String(n) : encodeBase64Url(bytes),
  }))

const insertParam = (text: string, param: string, at: number): string => {
  const [head = "", query = ""] = text.split("?")
  const params = query.split("&")
  params.splice(1 + (at % params.length), 0, param)
  return `${head}?${params.join("&")}`
}

const refusal = (text: string) => {
  const result = parseLinkResult(text)
  return Result.isFailure(result) ? result.failure : undefined
}

describe("capabilities cannot be widened by editing a link", () => {
  it("joining with a read link cannot write: a wkey on cap=read is refused by name", () => {
    fc.assert(
      fc.property(
        inviteOfTier("ReadCapability"),
        foreignParam(["wkey", "slot", "dht", "auth"]),
        fc.nat(),
        (invite, { name, value }, at) => {
          const error = refusal(insertParam(formatLink(invite), `${name}=${value}`, at))
          expect(error).toMatchObject({ _tag: "InvalidLink", part: name })
          expect(error?.reason).toContain("is not part of a read invite")
        },
      ),
      { numRuns: 100 },
    )
  })

  it("a replicate link carries no secret, and one added to it is refused", () => {
    fc.assert(
      fc.property(
        inviteOfTier("ReplicateCapability"),
        foreignParam(["secret", "wkey", "slot"]),
        fc.nat(),
        (invite, { name, value }, at) => {
          const text = formatLink(invite)
          expect(text).not.toMatch(/[?&](secret|wkey|slot)=/)
          expect(Object.keys(parseLinkSync(text) as GroupInvite)).not.toContain("secret")
          const error = refusal(insertParam(text, `${name}=${value}`, at))
          expect(error).toMatchObject({ _tag: "InvalidLink", part: name })
        },
      ),
      { numRuns: 100 },
    )
  })

  it("relabelling a link's tier is refused, whichever way", () => {
    fc.assert(
      fc.property(groupInvite, fc.constantFrom("replicate", "read", "write"), (invite, cap) => {
        const text = formatLink(invite)
        const relabelled = text.replace(/cap=[a-z]+/, `cap=${cap}`)
        if (relabelled === text) return
        expect(refusal(relabelled)?._tag).toBe("InvalidLink")
      }),
      { numRuns: 100 },
    )
  })

  it("each tier's link holds exactly its own parameters", () => {
    const layouts = {
      ReplicateCapability: ["v", "cap", "group", "dht", "auth"],
      ReadCapability: ["v", "cap", "group", "secret"],
      WriteCapability: ["v", "cap", "group", "secret", "slot", "wkey"],
    }
    fc.assert(
      fc.property(groupInvite, (invite) => {
        const names = (formatLink(invite).split("?")[1] ?? "")
          .split("&")
          .map((param) => param.split("=")[0])
          .filter((name) => name !== "name")
        expect(names).toEqual(layouts[invite.capability._tag])
      }),
      { numRuns: 100 },
    )
  })
})
