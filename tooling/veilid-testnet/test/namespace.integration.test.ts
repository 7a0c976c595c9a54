// Runs inside the namespace `veilid-testnet exec` made for this test run.
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import dns from "node:dns/promises"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import {
  ANCHOR_IP,
  ANCHOR_IPV6,
  GATEWAY_DEVICE,
  GATEWAY_IP,
  GATEWAY_IPV6,
  NODE_DEVICE,
} from "../src/addresses.ts"
import { insideEnvironment, NotInTestnet, zonesDir } from "../src/environment.ts"
import { acquireAddress, releaseAddress } from "../src/leases.ts"
import { namespaceLeasePool } from "../src/testnet.ts"
import { zoneToJson } from "../src/zone.ts"

const environment = insideEnvironment()
if (environment instanceof NotInTestnet) throw new Error(environment.message)

const ipJson = <A>(...args: Array<string>): A =>
  JSON.parse(execFileSync("ip", ["-j", ...args], { encoding: "utf8" }))

interface Link {
  ifname: string
  flags: Array<string>
  link?: string
  link_netnsid?: number
  linkinfo?: { info_kind?: string }
  addr_info?: Array<{ local: string; prefixlen: number; family: string }>
}

describe("the test namespace", () => {
  it("is the one named in the environment", () => {
    const current = execFileSync("ip", ["netns", "identify", String(process.pid)], {
      encoding: "utf8",
    }).trim()
    expect(current).toBe(environment.namespace)
    expect(current).toMatch(/^sdwtn-/)
  })

  it("has lo and one veth pair, both ends inside and up, and nothing else", () => {
    const links = ipJson<Array<Link>>("-d", "addr", "show")
    expect(links.map((link) => link.ifname).sort()).toEqual(
      ["lo", GATEWAY_DEVICE, NODE_DEVICE].sort(),
    )
    for (const name of [NODE_DEVICE, GATEWAY_DEVICE]) {
      const link = links.find((l) => l.ifname === name) as Link
      expect(link.linkinfo?.info_kind).toBe("veth")
      expect(link.flags).toEqual(expect.arrayContaining(["UP", "LOWER_UP"]))
      // A peer in another namespace would show a link-netnsid.
      expect(link.link_netnsid).toBeUndefined()
      expect(link.link).toBe(name === NODE_DEVICE ? GATEWAY_DEVICE : NODE_DEVICE)
    }
    const addresses = (name: string) =>
      (links.find((l) => l.ifname === name)?.addr_info ?? []).map(
        (a) => `${a.local}/${a.prefixlen}`,
      )
    expect(addresses(GATEWAY_DEVICE)).toEqual([`${GATEWAY_IP}/16`])
    expect(addresses(NODE_DEVICE)).toEqual(
      expect.arrayContaining([`${ANCHOR_IP}/16`, `${ANCHOR_IPV6}/20`]),
    )
  })

  it("routes everything through the gateway on the veth, with a gateway for both families", () => {
    const v4 = ipJson<Array<{ dst: string; gateway?: string; dev: string }>>("route", "show")
    expect(v4.find((r) => r.dst === "default")).toMatchObject({
      gateway: GATEWAY_IP,
      dev: NODE_DEVICE,
    })
    const v6 = ipJson<Array<{ dst: string; gateway?: string; dev: string }>>("-6", "route", "show")
    expect(v6.find((r) => r.dst === "default")).toMatchObject({
      gateway: GATEWAY_IPV6,
      dev: NODE_DEVICE,
    })
  })

  it("has no way out: the gateway forwards nothing and a public address does not answer", async () => {
    expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim()).toBe("0")
    expect(readFileSync("/proc/sys/net/ipv6/conf/all/forwarding", "utf8").trim()).toBe("0")
    const [route] = ipJson<Array<{ dev: string; gateway: string }>>("route", "get", "1.1.1.1")
    expect(route).toMatchObject({ dev: NODE_DEVICE, gateway: GATEWAY_IP })
    const outcome = await new Promise<string>((resolve) => {
      const socket = net.connect({ host: "1.1.1.1", port: 443, timeout: 1500 })
      socket.on("connect", () => resolve("connected"))
      socket.on("timeout", () => resolve("timeout"))
      socket.on("error", (error) => resolve((error as NodeJS.ErrnoException).code ?? "error"))
    }).finally(() => undefined)
    expect(outcome).not.toBe("connected")
  })

  it("points the resolver at the namespace's own DNS server", () => {
    const resolvConf = readFileSync("/etc/resolv.conf", "utf8")
    expect(resolvConf).toContain(environment.namespace)
    expect(resolvConf.match(/^nameserver .*/gm)).toEqual(["nameserver 127.0.0.1"])
  })

  it("answers zone names from inside (TXT through c-ares, A/AAAA through libc), others at once", async () => {
    const id = `probe${randomBytes(3).toString("hex")}`
    const zone = join(zonesDir(environment.runDir), `${id}.json`)
    writeFileSync(
      zone,
      zoneToJson(
        new Map([
          [`${id}.sdwtn.test`, { txt: ["n0"] }],
          [
            `n0.${id}.sdwtn.test`,
            { txt: ["0|0|x|11.77.1.1|U5150"], a: ["11.77.200.1"], aaaa: ["3fff:1:99::1"] },
          ],
        ]),
      ),
    )
    try {
      expect(await dns.resolveTxt(`${id}.sdwtn.test`)).toEqual([["n0"]])
      expect(await dns.resolveTxt(`n0.${id}.sdwtn.test`)).toEqual([["0|0|x|11.77.1.1|U5150"]])
      // dns.lookup is getaddrinfo: what veilid uses to resolve listen addresses.
      const addresses = await dns.lookup(`n0.${id}.sdwtn.test`, { all: true })
      expect(addresses.map((a) => a.address).sort()).toEqual(["11.77.200.1", "3fff:1:99::1"])
      const started = Date.now()
      await expect(dns.resolveTxt("bootstrap-v1.veilid.net")).rejects.toMatchObject({
        code: "ENOTFOUND",
      })
      await expect(dns.lookup("example.com")).rejects.toMatchObject({ code: "ENOTFOUND" })
      expect(Date.now() - started).toBeLessThan(1000)
    } finally {
      rmSync(zone, { force: true })
    }
  })

  it("puts a leased node's addresses on the node device and takes them away on release", () => {
    const pool = namespaceLeasePool(environment.runDir)
    const address = acquireAddress(pool, "namespace-test/probe")
    const listed = () =>
      (ipJson<Array<Link>>("addr", "show", "dev", NODE_DEVICE)[0]?.addr_info ?? []).map(
        (a) => a.local,
      )
    try {
      expect(listed()).toEqual(expect.arrayContaining([address.ipv4, address.ipv6]))
    } finally {
      releaseAddress(pool, address)
    }
    expect(listed()).not.toContain(address.ipv4)
    expect(listed()).not.toContain(address.ipv6)
  })
})
