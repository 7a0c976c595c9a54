// Real Veilid nodes in the namespace `veilid-testnet exec` made for this run.
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { it as effectIt } from "@effect/vitest"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { insideEnvironment, leasesDir, NotInTestnet, zonesDir } from "../src/environment.ts"
import { DEFAULT_READY_TIMEOUT_MS } from "../src/index.ts"
import { listLeases } from "../src/leases.ts"
import {
  loadNativeBinding,
  type NativeBinding,
  NativeBindingMissing,
  type NativeNode,
  resolveNativeBinding,
} from "../src/native.ts"
import { descendantPids } from "../src/process-info.ts"
import { startTestnet, type Testnet, type TestnetNode, withTestnet } from "../src/testnet.ts"
import { median, udpRoundTrips } from "./measure.ts"

const environment = insideEnvironment()
if (environment instanceof NotInTestnet) throw new Error(environment.message)
const native = resolveNativeBinding()
// Without the binding only the namespace tests can run; in CI that is a failure.
const missing = native instanceof NativeBindingMissing && !process.env.CI
if (missing) console.warn(`skipping testnet tests: ${(native as NativeBindingMissing).message}`)

const START_TIMEOUT = DEFAULT_READY_TIMEOUT_MS + 30_000

let requestId = 0
/** One veilid-remote-api request; the response's value, or a thrown error. */
const call = async (node: NativeNode, request: Record<string, unknown>): Promise<unknown> => {
  const response = JSON.parse(await node.request(JSON.stringify({ id: ++requestId, ...request })))
  if (response.error !== undefined)
    throw new Error(`${request.op}: ${JSON.stringify(response.error)}`)
  return response.value
}

/** Starts a node from `config`, attaches it and waits for public_internet_ready. */
const startReadyNode = (
  binding: NativeBinding,
  config: unknown,
  running: Array<NativeNode>,
): Promise<NativeNode> =>
  new Promise((resolve, reject) => {
    let node: NativeNode | undefined
    let ready = false
    const settle = () => {
      if (node && ready) resolve(node)
    }
    binding.VeilidNode.start(JSON.stringify(config), (json) => {
      const update = JSON.parse(json)
      if (update.kind === "Attachment" && update.public_internet_ready) {
        ready = true
        settle()
      }
    })
      .then(async (started) => {
        node = started
        running.push(started)
        await call(started, { op: "Attach" })
        settle()
      })
      .catch(reject)
  })
const leasedBy = (id: string) =>
  listLeases({ dir: leasesDir(environment.runDir) }).filter((l) => l.label.startsWith(`${id}/`))
const zoneFileOf = (id: string) => join(zonesDir(environment.runDir), `${id}.json`)

describe.skipIf(missing)("a testnet", () => {
  it(
    "starts 8 nodes that all become ready, and stop leaves no process, address or file behind",
    async () => {
      const before = descendantPids(process.pid)
      const testnet = await startTestnet()
      let stopped = false
      try {
        console.log(`testnet ${testnet.id}: 8 nodes ready after ${testnet.readyAfterMs} ms`)
        expect(testnet.nodes).toHaveLength(8)
        expect(new Set(testnet.nodes.map((n) => n.ipv4)).size).toBe(8)
        expect(new Set(testnet.nodes.map((n) => n.ipv6)).size).toBe(8)
        expect(testnet.bootstrap).toEqual([`${testnet.id}.sdwtn.test`])
        expect(testnet.readyAfterMs).toBeLessThan(DEFAULT_READY_TIMEOUT_MS)
        expect(leasedBy(testnet.id)).toHaveLength(8)
        expect(existsSync(zoneFileOf(testnet.id))).toBe(true)
        expect(descendantPids(process.pid)).toContain(testnet.hostPid)
        // The nodes know each other on the public routing domain, over both families.
        const info = await testnet.debug("n0", "dialinfo")
        expect(info).toContain(`Direct:udp|${testnet.nodes[0]?.ipv4}:5150`)
        expect(info).toContain(`Direct:udp|[${testnet.nodes[0]?.ipv6}]:5150`)
        await testnet.stop()
        stopped = true
        expect(descendantPids(process.pid)).toEqual(before)
        expect(existsSync(`/proc/${testnet.hostPid}`)).toBe(false)
        expect(leasedBy(testnet.id)).toEqual([])
        expect(existsSync(zoneFileOf(testnet.id))).toBe(false)
        expect(existsSync(join(environment.dataDir, testnet.id))).toBe(false)
      } finally {
        if (!stopped) await testnet.stop()
      }
    },
    START_TIMEOUT,
  )

  it(
    "starts again right after; nodes under test join with the configs it hands out and share a DHT value",
    async () => {
      const testnet: Testnet = await startTestnet()
      const binding = await loadNativeBinding(native as string)
      const running: Array<NativeNode> = []
      try {
        const config = testnet.nodeConfig("writer")
        expect(testnet.nodeConfig("writer")).toBe(config)
        const network = config.network as { routing_table: { bootstrap: Array<string> } }
        expect(network.routing_table.bootstrap).toEqual(testnet.bootstrap)
        const started = Date.now()
        const [writer, reader] = await Promise.all(
          ["writer", "reader"].map((name) =>
            startReadyNode(binding, testnet.nodeConfig(name), running),
          ),
        )
        console.log(`2 nodes under test ready after ${Date.now() - started} ms`)
        expect(leasedBy(testnet.id)).toHaveLength(10)

        // Written by one node under test, read back by the other through the testnet's DHT.
        const data = Buffer.from(`hello from ${testnet.id}`).toString("base64url")
        const rc = await call(writer as NativeNode, { op: "NewRoutingContext" })
        const record = await call(writer as NativeNode, {
          op: "RoutingContext",
          rc_id: rc,
          rc_op: "CreateDhtRecord",
          kind: "VLD0",
          schema: { kind: "DFLT", o_cnt: 1 },
          owner: null,
        })
        const key = (record as { key: string }).key
        await call(writer as NativeNode, {
          op: "RoutingContext",
          rc_id: rc,
          rc_op: "SetDhtValue",
          key,
          subkey: 0,
          data,
          options: null,
        })
        const readerRc = await call(reader as NativeNode, { op: "NewRoutingContext" })
        await call(reader as NativeNode, {
          op: "RoutingContext",
          rc_id: readerRc,
          rc_op: "OpenDhtRecord",
          key,
          writer: null,
          options: null,
        })
        const value = await call(reader as NativeNode, {
          op: "RoutingContext",
          rc_id: readerRc,
          rc_op: "GetDhtValue",
          key,
          subkey: 0,
          force_refresh: true,
        })
        expect((value as { data: string }).data).toBe(data)
      } finally {
        await Promise.all(running.map((node) => node.shutdown()))
        await testnet.stop()
      }
      expect(leasedBy(testnet.id)).toEqual([])
    },
    START_TIMEOUT,
  )

  effectIt.effect(
    "withTestnet is a scoped resource: closing the scope stops it",
    () =>
      Effect.gen(function* () {
        const id = yield* Effect.scoped(
          Effect.gen(function* () {
            const testnet = yield* withTestnet({ nodes: 6 })
            expect(testnet.nodes).toHaveLength(6)
            expect(existsSync(zoneFileOf(testnet.id))).toBe(true)
            return testnet.id
          }),
        )
        expect(existsSync(zoneFileOf(id))).toBe(false)
        expect(leasedBy(id)).toEqual([])
        expect(readdirSync(zonesDir(environment.runDir)).filter((f) => f.startsWith(id))).toEqual(
          [],
        )
      }),
    START_TIMEOUT,
  )

  it(
    "runs on an emulated network: every node's link, per-node overrides, nodes under test, changed and removed",
    async () => {
      const testnet = await startTestnet({
        nodes: 6,
        network: { delayMs: 10, nodes: { n0: { delayMs: 30 } } },
      })
      const rules = () =>
        execFileSync("iptables", ["-w", "-t", "mangle", "-S"], { encoding: "utf8" })
      const roundTrip = async (from: string, to: string) =>
        median(await udpRoundTrips(from, to, 15))
      try {
        console.log(`6 nodes on 10 ms links (n0 30 ms) ready after ${testnet.readyAfterMs} ms`)
        expect(testnet.network).toEqual({ delayMs: 10, nodes: { n0: { delayMs: 30 } } })
        const [n0, n1] = testnet.nodes as [TestnetNode, TestnetNode]
        for (const node of testnet.nodes) expect(rules()).toContain(`-s ${node.ipv4}/32`)
        expect(await roundTrip(n0.ipv4, n1.ipv4)).toBeGreaterThanOrEqual(39)
        expect(await roundTrip(n0.ipv4, n1.ipv4)).toBeLessThan(44)
        // A node under test: the testnet's default, or its own link.
        testnet.nodeConfig("alice", { network: { delayMs: 20 } })
        const alice = leasedBy(testnet.id).find((lease) => lease.label.endsWith("/alice"))?.address
        expect(alice).toBeDefined()
        expect(rules()).toContain(`-s ${alice?.ipv4}/32`)
        expect(await roundTrip(alice?.ipv4 as string, n1.ipv4)).toBeGreaterThanOrEqual(29)
        // Changed while running, and taken away.
        testnet.shape("n1", {})
        expect(rules()).not.toContain(`-s ${n1.ipv4}/32`)
        expect(await roundTrip(n0.ipv4, n1.ipv4)).toBeLessThan(34)
        expect(() => testnet.shape("nobody", {})).toThrow(/no node nobody/)
      } finally {
        await testnet.stop()
      }
      for (const node of testnet.nodes) expect(rules()).not.toContain(`-s ${node.ipv4}/32`)
    },
    START_TIMEOUT,
  )

  it("fails with a clear error outside the wrapper's environment", async () => {
    const saved = process.env.SAVE_DWEB_TESTNET
    delete process.env.SAVE_DWEB_TESTNET
    try {
      await expect(startTestnet()).rejects.toMatchObject({ _tag: "NotInTestnet" })
    } finally {
      process.env.SAVE_DWEB_TESTNET = saved
    }
  })
})
