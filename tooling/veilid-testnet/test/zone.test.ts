import { spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { nodeAddressAt } from "../src/addresses.ts"
import { processIdentity } from "../src/process-info.ts"
import {
  bootstrapRecordV0,
  bootstrapZone,
  mergeZones,
  zoneFromJson,
  zoneOwnerFromJson,
  zoneToJson,
} from "../src/zone.ts"
import { readZoneDir } from "../src/zone-dir.ts"

const node = (i: number) => ({
  name: `n${i}`,
  publicKey: `VLD0:${String(i).repeat(43).slice(0, 43)}`,
  address: nodeAddressAt(i) ?? { index: -1, ipv4: "", ipv6: "" },
  port: 5150,
})

describe("bootstrap zone", () => {
  it("writes a node's v0 record as veilid parses it: five '|' fields", () => {
    const record = bootstrapRecordV0(node(0))
    expect(record).toBe(`0|0|VLD0:${"0".repeat(43)}|11.77.1.1|U5150,T5150,W5150/ws`)
    const [version, envelopes, keys, host, dialInfo, ...extra] = record.split("|")
    expect([version, envelopes, host, extra]).toEqual(["0", "0", "11.77.1.1", []])
    expect(keys).toMatch(/^VLD0:[A-Za-z0-9_-]{43}$/)
    // Short dial info: protocol letter and port, each parsed as `<proto>://<host>:<port>`.
    expect(dialInfo?.split(",").map((d) => d[0])).toEqual(["U", "T", "W"])
  })

  it("lists every node under the root; each node's name has its record and its addresses", () => {
    const zone = bootstrapZone("Abc.Sdwtn.Test.", [node(0), node(1), node(2)])
    expect([...zone.keys()]).toEqual([
      "abc.sdwtn.test",
      "n0.abc.sdwtn.test",
      "n1.abc.sdwtn.test",
      "n2.abc.sdwtn.test",
    ])
    expect(zone.get("abc.sdwtn.test")).toEqual({ txt: ["n0,n1,n2"] })
    expect(zone.get("n2.abc.sdwtn.test")).toEqual({
      txt: [bootstrapRecordV0(node(2))],
      a: ["11.77.1.3"],
      aaaa: ["3fff:1:0:200::1"],
    })
  })

  it("keeps a long node list as one logical string (the server splits it)", () => {
    const nodes = Array.from({ length: 100 }, (_, i) => node(i))
    const list = bootstrapZone("r.test", nodes).get("r.test")?.txt?.[0]
    expect(list?.split(",")).toHaveLength(100)
  })

  it("merges zones of several testnets name by name", () => {
    const merged = mergeZones([
      new Map([["a.test", { txt: ["1"] }]]),
      new Map([
        ["a.test", { a: ["11.77.1.1"] }],
        ["b.test", { aaaa: ["3fff:1::1"] }],
      ]),
    ])
    expect(merged.get("a.test")).toEqual({ txt: ["1"], a: ["11.77.1.1"], aaaa: [] })
    expect(merged.get("b.test")?.aaaa).toEqual(["3fff:1::1"])
  })

  it("answers an address two zones give one name once", () => {
    const merged = mergeZones([
      new Map([["alice.test", { a: ["11.77.0.9"] }]]),
      new Map([["alice.test", { a: ["11.77.0.9"], aaaa: ["3fff:1::9"] }]]),
    ])
    expect(merged.get("alice.test")).toEqual({ txt: [], a: ["11.77.0.9"], aaaa: ["3fff:1::9"] })
  })

  it("does not answer, and removes, the zone of a process that died (kill -9 runs no clean-up)", () => {
    const dir = mkdtempSync(join(tmpdir(), "zones-"))
    try {
      const dead = spawnSync(process.execPath, ["-e", ""]).pid ?? 0
      const deadOwner = { pid: dead, startTime: "1" }
      writeFileSync(
        join(dir, "gone.json"),
        zoneToJson(new Map([["alice.test", { a: ["11.77.0.9"] }]]), deadOwner),
      )
      writeFileSync(
        join(dir, "live.json"),
        zoneToJson(new Map([["alice.test", { a: ["11.77.0.10"] }]]), processIdentity()),
      )
      writeFileSync(
        join(dir, "no-owner.json"),
        zoneToJson(new Map([["n0.test", { a: ["11.77.0.2"] }]])),
      )
      const zone = readZoneDir(dir)
      expect(zone.get("alice.test")?.a).toEqual(["11.77.0.10"])
      expect(zone.get("n0.test")?.a).toEqual(["11.77.0.2"])
      expect(readdirSync(dir).sort()).toEqual(["live.json", "no-owner.json"])
      expect(zoneOwnerFromJson(zoneToJson(new Map(), deadOwner))).toEqual(deadOwner)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("survives its file form", () => {
    const zone = bootstrapZone("abc.sdwtn.test", [node(0), node(1)])
    expect(zoneFromJson(zoneToJson(zone))).toEqual(zone)
  })

  it("reads nothing from a file of the wrong shape", () => {
    expect(zoneFromJson('{"records": {"a": {"txt": [1]}}}').get("a")).toEqual({})
    expect(zoneFromJson("[]").size).toBe(0)
  })
})
