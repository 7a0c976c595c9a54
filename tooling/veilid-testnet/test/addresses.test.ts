import { spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import fc from "fast-check"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import {
  ANCHOR_IP,
  ANCHOR_IPV6,
  bytesToIpv6,
  GATEWAY_IP,
  GATEWAY_IPV6,
  intToIpv4,
  ipv4ToInt,
  ipv6ToBytes,
  isVeilidGlobalIpv4,
  isVeilidGlobalIpv6,
  NODE_IP_CAPACITY,
  type NodeAddress,
  nodeAddressAt,
  nodeIndexOf,
  nodeIpAt,
} from "../src/addresses.ts"
import { acquireAddress, type LeasePool, listLeases, releaseAddress } from "../src/leases.ts"
import { processIdentity } from "../src/process-info.ts"

describe("address classes (veilid-tools 0.5.8 ip_extra.rs)", () => {
  it.each([
    ["11.77.1.1", true],
    ["8.8.8.8", true],
    ["172.32.0.1", true],
    ["192.0.0.9", true],
    ["10.1.2.3", false],
    ["172.16.0.1", false],
    ["192.168.1.1", false],
    ["127.0.0.1", false],
    ["169.254.1.1", false],
    ["100.64.0.1", false],
    ["192.0.0.1", false],
    ["192.0.2.1", false],
    ["198.51.100.1", false],
    ["203.0.113.1", false],
    ["198.18.0.1", false],
    ["198.19.255.1", false],
    ["240.0.0.1", false],
    ["255.255.255.255", false],
    ["0.1.2.3", false],
  ] as const)("%s global: %s", (ip, global) => {
    expect(isVeilidGlobalIpv4(ip)).toBe(global)
  })

  it.each([
    ["3fff:1::1", true],
    ["2a00:1450::1", true],
    ["2001::1", true],
    ["2001:db8::1", false],
    ["fd00::1", false],
    ["fe80::1", false],
    ["::1", false],
    ["::", false],
    ["ff02::1", false],
  ] as const)("%s global: %s", (ip, global) => {
    expect(isVeilidGlobalIpv6(ip)).toBe(global)
  })

  it("parses any IPv6 text and prints it in RFC 5952 form", () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const bytes = ipv6ToBytes(text)
        if (text.includes(".")) return // embedded IPv4 forms are not used
        expect(bytes).toBeDefined()
        const printed = bytesToIpv6(bytes as Uint8Array)
        expect(ipv6ToBytes(printed)).toEqual(bytes)
        expect(printed).toBe(printed.toLowerCase())
      }),
    )
    expect(bytesToIpv6(ipv6ToBytes("3FFF:0001:0000:0000:0000:0000:0000:0001") as Uint8Array)).toBe(
      "3fff:1::1",
    )
    expect(bytesToIpv6(ipv6ToBytes("1:0:0:1:0:0:0:1") as Uint8Array)).toBe("1:0:0:1::1")
    for (const bad of ["1::2::3", "12345::", "1:2:3:4:5:6:7", "g::1", ":::"]) {
      expect(ipv6ToBytes(bad)).toBeUndefined()
    }
  })

  it("parses and prints every IPv4 address", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (value) => {
        expect(ipv4ToInt(intToIpv4(value))).toBe(value)
      }),
    )
    for (const bad of ["1.2.3", "1.2.3.256", "01.2.3.4", "a.b.c.d", "1.2.3.4.5"]) {
      expect(ipv4ToInt(bad)).toBeUndefined()
    }
  })
})

describe("address plan", () => {
  it("hands out distinct global addresses in 11.77.0.0/16, never .0, .255 or 11.77.0.x", () => {
    const seen = new Set<string>()
    const bad: Array<string> = []
    for (let i = 0; i < NODE_IP_CAPACITY; i++) {
      const ip = nodeIpAt(i) ?? "none"
      const [a, b, c, d] = ip.split(".").map(Number)
      if (a !== 11 || b !== 77 || (c ?? 0) < 1 || d === 0 || d === 255 || nodeIndexOf(ip) !== i) {
        bad.push(ip)
      }
      seen.add(ip)
    }
    expect(bad).toEqual([])
    expect(seen.size).toBe(NODE_IP_CAPACITY)
    expect(nodeIpAt(NODE_IP_CAPACITY)).toBeUndefined()
    expect([nodeIpAt(0), nodeIpAt(253), nodeIpAt(254)]).toEqual([
      "11.77.1.1",
      "11.77.1.254",
      "11.77.2.1",
    ])
    expect(seen.has(GATEWAY_IP) || seen.has(ANCHOR_IP)).toBe(false)
    expect([GATEWAY_IP, ANCHOR_IP, "11.77.1.1"].every(isVeilidGlobalIpv4)).toBe(true)
  })

  it("gives every node a global IPv6 address in a /56 of its own, apart from gateway and anchor", () => {
    const blocks = new Set<string>()
    for (let i = 0; i < NODE_IP_CAPACITY; i += 97) {
      const { ipv6 } = nodeAddressAt(i) as NodeAddress
      expect(isVeilidGlobalIpv6(ipv6)).toBe(true)
      blocks.add(Buffer.from((ipv6ToBytes(ipv6) as Uint8Array).subarray(0, 7)).toString("hex"))
    }
    expect(blocks.size).toBe(Math.ceil(NODE_IP_CAPACITY / 97))
    expect(nodeAddressAt(0)).toEqual({ index: 0, ipv4: "11.77.1.1", ipv6: "3fff:1::1" })
    expect(nodeAddressAt(257)?.ipv6).toBe("3fff:1:1:100::1")
    const anchors = [GATEWAY_IPV6, ANCHOR_IPV6].map((ip) =>
      Buffer.from(ipv6ToBytes(ip) as Uint8Array)
        .subarray(0, 7)
        .toString("hex"),
    )
    expect(anchors.some((block) => blocks.has(block))).toBe(false)
  })
})

describe("address leases", () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "leases-"))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it("gives each caller its own address and takes released ones back", () => {
    const added: Array<string> = []
    const removed: Array<string> = []
    const pool: LeasePool = {
      dir,
      onAcquire: (address) => added.push(address.ipv4),
      onRelease: (address) => removed.push(address.ipv4),
    }
    const a = acquireAddress(pool, "t/a")
    const b = acquireAddress(pool, "t/b")
    expect([a, b]).toEqual([nodeAddressAt(0), nodeAddressAt(1)])
    releaseAddress(pool, a)
    expect(acquireAddress(pool, "t/c")).toEqual(a)
    expect(added).toEqual(["11.77.1.1", "11.77.1.2", "11.77.1.1"])
    expect(removed).toEqual(["11.77.1.1"])
    expect(
      listLeases(pool)
        .map((l) => l.label)
        .sort(),
    ).toEqual(["t/b", "t/c"])
  })

  it("takes over the lease of an owner that died, not of one that lives", () => {
    const dead = spawnSync(process.execPath, ["-e", ""]).pid as number
    const pool = { dir }
    const ipv4 = (label: string, owner = processIdentity()) =>
      acquireAddress(pool, label, owner).ipv4
    expect(ipv4("dead/0", { pid: dead, startTime: "1" })).toBe("11.77.1.1")
    expect(ipv4("live/0")).toBe("11.77.1.1")
    expect(ipv4("live/1")).toBe("11.77.1.2")
    expect(listLeases(pool).map((l) => l.label)).toEqual(
      ["11.77.1.1", "11.77.1.2"].map((_, i) => `live/${i}`),
    )
  })

  it("gives the lease back when the address cannot be added", () => {
    const pool = {
      dir,
      onAcquire: () => {
        throw new Error("no")
      },
    }
    expect(() => acquireAddress(pool, "t/x")).toThrow("no")
    expect(readdirSync(dir)).toEqual([])
  })

  it("never gives one address to two processes leasing at once", () => {
    // The leases name this (live) process as owner, so none can be taken over.
    const owner = JSON.stringify(processIdentity())
    const script = `
      import { acquireAddress } from ${JSON.stringify(new URL("../src/leases.ts", import.meta.url).pathname)}
      const ips = []
      for (let i = 0; i < 25; i++) ips.push(acquireAddress({ dir: ${JSON.stringify(dir)} }, "p" + process.pid + "/" + i, ${owner}).ipv4)
      console.log(JSON.stringify(ips))
    `
    const runs = Array.from({ length: 4 }, () =>
      import("node:child_process").then(
        ({ execFile }) =>
          new Promise<Array<string>>((resolve, reject) =>
            execFile(process.execPath, ["--input-type=module", "-e", script], (error, stdout) =>
              error ? reject(error) : resolve(JSON.parse(stdout)),
            ),
          ),
      ),
    )
    return Promise.all(runs).then((results) => {
      const all = results.flat()
      expect(all).toHaveLength(100)
      expect(new Set(all).size).toBe(100)
    })
  })
})
