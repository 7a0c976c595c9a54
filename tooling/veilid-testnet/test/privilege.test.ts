import { describe, expect, it } from "vitest"
import { missingPrivilege } from "../src/namespace.ts"

const status = (capEff: string) => `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\n`

describe("privilege check", () => {
  it("accepts root's full capability set", () => {
    expect(missingPrivilege(status("000001ffffffffff"))).toBeUndefined()
  })

  it("accepts exactly CAP_NET_ADMIN and CAP_SYS_ADMIN", () => {
    expect(
      missingPrivilege(status((2n ** 12n + 2n ** 21n).toString(16).padStart(16, "0"))),
    ).toBeUndefined()
  })

  it.each([
    ["no capabilities", "0000000000000000"],
    ["CAP_NET_ADMIN only", (2n ** 12n).toString(16).padStart(16, "0")],
    ["CAP_SYS_ADMIN only", (2n ** 21n).toString(16).padStart(16, "0")],
  ])("refuses %s, naming what is needed", (_, capEff) => {
    expect(missingPrivilege(status(capEff))).toMatch(
      /needs root \(CAP_NET_ADMIN and CAP_SYS_ADMIN\)/,
    )
  })
})
