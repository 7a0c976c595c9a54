// A private Veilid network, started from inside a testnet namespace: leases
// one address per node, writes the DNS TXT bootstrap zone, runs the nodes in
// a host process and waits until every one is ready for DHT and routes.
import { type ChildProcess, fork } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Data, Effect, type Scope } from "effect"
import { NODE_DEVICE, NODE_PORT, type NodeAddress } from "./addresses.ts"
import {
  type DhtTuning,
  NODE_UNDER_TEST_DISABLED_CAPABILITIES,
  SMALL_NETWORK_DHT,
  testnetNodeConfig,
  type VeilidConfigJson,
} from "./config.ts"
import {
  type InsideEnvironment,
  infoFile,
  insideEnvironment,
  leasesDir,
  NotInTestnet,
  zonesDir,
} from "./environment.ts"
import type { HostCommand, HostEvent } from "./host-protocol.ts"
import { IpCommandError, ipSync } from "./ip-command.ts"
import { generateNodeKeyPair, type NodeKeyPair } from "./keys.ts"
import { acquireAddress, type LeasePool, releaseAddress } from "./leases.ts"
import { NativeBindingMissing, resolveNativeBinding } from "./native.ts"
import { isAlive, processIdentity } from "./process-info.ts"
import {
  type AppliedShape,
  applyShape,
  clearLeftoverShape,
  type LinkShape,
  type NetworkShape,
  networkFromEnvironment,
  shapeOf,
  validateShape,
} from "./shaping.ts"
import {
  bootstrapZone,
  canonicalHost,
  hostEntry,
  type Zone,
  type ZoneEntry,
  zoneToJson,
} from "./zone.ts"
import { readZoneDir } from "./zone-dir.ts"

export const DEFAULT_NODE_COUNT = 8
export const DEFAULT_READY_TIMEOUT_MS = 90_000
const HOST_HELLO_TIMEOUT_MS = 30_000
const HOST_STOP_TIMEOUT_MS = 15_000
const OUTPUT_TAIL_LINES = 40

export class TestnetError extends Data.TaggedError("TestnetError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export interface TestnetOptions {
  /** Bootstrap/peer nodes to run (default 8; readiness needs 5 or more). */
  readonly nodes?: number
  /** How long every node may take to become ready (default 90 s). */
  readonly readyTimeoutMs?: number
  /** Entry file of @save-dweb/veilid/native (default: found in the workspace). */
  readonly native?: string
  /** DHT counts for all nodes, including those from `nodeConfig` (default SMALL_NETWORK_DHT). */
  readonly dht?: DhtTuning | "veilid-defaults"
  /**
   * Emulated links: delay, jitter, loss and uplink rate of every node, testnet
   * nodes and nodes under test, with per-name overrides (default: what
   * `veilid-testnet exec/up --delay ...` set, else none).
   */
  readonly network?: NetworkShape
}

export interface NodeConfigOptions {
  /** This node's link (default: the testnet's `network` for this name). */
  readonly network?: LinkShape
}

export interface TestnetNode {
  readonly name: string
  /** Its name in the testnet zone: resolves to `ipv4` and `ipv6`; the node listens on it. */
  readonly host: string
  readonly ipv4: string
  readonly ipv6: string
  readonly port: number
  /** "VLD0:<base64url>"; for VLD0 the node id is the same value. */
  readonly publicKey: string
  readonly storageDir: string
}

export interface TestnetInfo {
  readonly id: string
  readonly namespace: string
  /** DNS TXT bootstrap root names (the `network.routing_table.bootstrap` value). */
  readonly bootstrap: ReadonlyArray<string>
  readonly networkKeyPassword: string
  readonly nodes: ReadonlyArray<TestnetNode>
  /** veilid-core's default config, as the binding reports it: the base of every node config. */
  readonly baseConfig: VeilidConfigJson
  readonly dht: DhtTuning | "veilid-defaults"
  /** The emulated network nodes get unless told otherwise (absent: none). */
  readonly network?: NetworkShape
}

export interface Testnet extends TestnetInfo {
  /** Time from start until every node was ready. */
  readonly readyAfterMs: number
  /** The host process that runs the testnet's nodes; gone once `stop()` resolves. */
  readonly hostPid: number
  /**
   * A complete config for one more node (the node under test), with its own
   * fresh address, storage directory and keys. The same name gives the same
   * config; the address is freed when the testnet stops.
   */
  readonly nodeConfig: (name: string, options?: NodeConfigOptions) => VeilidConfigJson
  /**
   * Changes the link of a testnet node (`n0`) or of a node under test this
   * process configured; `{}` removes its shaping. In force when it returns.
   */
  readonly shape: (name: string, shape: LinkShape) => void
  /** Output of a veilid debug command (e.g. "nodeinfo", "entries") on one of the nodes. */
  readonly debug: (name: string, command: string) => Promise<string>
  /** Stops the nodes and frees addresses, zone and storage. Idempotent. */
  readonly stop: () => Promise<void>
}

const tolerateIp = (args: ReadonlyArray<string>, benign: RegExp): void => {
  try {
    ipSync(args)
  } catch (error) {
    if (!(error instanceof IpCommandError && benign.test(error.message))) throw error
  }
}

/** Leases put their addresses on the node device of the namespace we run in. */
export const namespaceLeasePool = (runDir: string): LeasePool => ({
  dir: leasesDir(runDir),
  onAcquire: (address) => {
    clearLeftoverShape(runDir, address)
    // Host routes (/32, /128): veilid-tools does not list secondary addresses of a subnet.
    tolerateIp(["addr", "add", `${address.ipv4}/32`, "dev", NODE_DEVICE], /exists|assigned/i)
    // nodad: usable at once, no duplicate address detection round.
    tolerateIp(
      ["-6", "addr", "add", `${address.ipv6}/128`, "dev", NODE_DEVICE, "nodad"],
      /exists|assigned/i,
    )
  },
  onRelease: (address) => {
    tolerateIp(["addr", "del", `${address.ipv4}/32`, "dev", NODE_DEVICE], /cannot assign/i)
    tolerateIp(["-6", "addr", "del", `${address.ipv6}/128`, "dev", NODE_DEVICE], /cannot assign/i)
  },
})

/** One process's zone file in the namespace's zone directory, replaced atomically. */
class ZoneFile {
  readonly path: string
  private readonly dir: string
  private readonly entries = new Map<string, ZoneEntry>()
  private readonly owner = processIdentity()
  constructor(runDir: string, id: string) {
    this.dir = zonesDir(runDir)
    mkdirSync(this.dir, { recursive: true })
    this.path = join(this.dir, `${id}.json`)
  }
  /** Whether a live process's zone other than this one already answers `name`. */
  answeredElsewhere(name: string): boolean {
    const others = readZoneDir(this.dir)
    return others.has(name) && !this.entries.has(name)
  }
  set(zone: Zone): void {
    for (const [name, entry] of zone) this.entries.set(name, entry)
    // The DNS server reads only *.json: it never sees the file half written.
    writeFileSync(`${this.path}.tmp`, zoneToJson(this.entries, this.owner))
    renameSync(`${this.path}.tmp`, this.path)
  }
  remove(): void {
    rmSync(this.path, { force: true })
  }
}

const tail = (lines: Array<string>, chunk: string): void => {
  lines.push(...chunk.split("\n").filter((line) => line !== ""))
  if (lines.length > OUTPUT_TAIL_LINES) lines.splice(0, lines.length - OUTPUT_TAIL_LINES)
}

const readTail = (path: string, count: number): string => {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-count).join("\n")
  } catch {
    return "(no log)"
  }
}

let debugRequests = 0
const DEBUG_TIMEOUT_MS = 5_000

/** Output of a veilid debug command run on one node of the host. */
const debugNode = (host: ChildProcess, name: string, command: string): Promise<string> =>
  new Promise((resolve) => {
    const id = ++debugRequests
    const onMessage = (event: HostEvent) => {
      if (event.type === "debug" && event.id === id) finish(event.output)
    }
    const timer = setTimeout(() => finish("(no answer)"), DEBUG_TIMEOUT_MS)
    const finish = (output: string) => {
      clearTimeout(timer)
      host.off("message", onMessage)
      resolve(output)
    }
    host.on("message", onMessage)
    host.send({ type: "debug", id, name, command } satisfies HostCommand)
  })

const hostScript = (): string =>
  new URL(import.meta.url.endsWith(".ts") ? "./host.ts" : "./host.js", import.meta.url).pathname

/** The emulated links this process set up, by node name. */
class Shapes {
  private readonly applied = new Map<string, AppliedShape>()
  set(name: string, address: NodeAddress, shape: LinkShape): void {
    validateShape(shape)
    this.applied.get(name)?.remove()
    this.applied.delete(name)
    this.applied.set(name, applyShape(address, shape))
  }
  removeAll(): void {
    for (const shape of this.applied.values()) shape.remove()
    this.applied.clear()
  }
}

/** Extra nodes (nodes under test) configured by this process. */
class ExtraNodes {
  private readonly configs = new Map<string, VeilidConfigJson>()
  private readonly addresses: Array<NodeAddress> = []
  private readonly byName = new Map<string, NodeAddress>()
  readonly shapes: Shapes
  private readonly info: TestnetInfo
  private readonly pool: LeasePool
  private readonly zone: ZoneFile
  private readonly storageRoot: string
  constructor(info: TestnetInfo, pool: LeasePool, zone: ZoneFile, storageRoot: string) {
    this.info = info
    this.pool = pool
    this.zone = zone
    this.storageRoot = storageRoot
    this.shapes = new Shapes()
  }

  address(name: string): NodeAddress | undefined {
    return this.byName.get(name)
  }

  config(name: string, options: NodeConfigOptions = {}): VeilidConfigJson {
    const existing = this.configs.get(name)
    if (existing) {
      const address = this.byName.get(name)
      if (options.network !== undefined && address) this.shapes.set(name, address, options.network)
      return existing
    }
    if (!/^[a-z0-9-]{1,40}$/.test(name)) {
      throw new TestnetError({ message: `node name must be [a-z0-9-]{1,40}: ${name}` })
    }
    // Under "x." so an extra node's name never meets a bootstrap node's.
    const host = canonicalHost(`${name}.x`, this.info.bootstrap[0] ?? "")
    // Two live nodes of one name would both bind every address the name resolves to.
    if (this.zone.answeredElsewhere(host)) {
      throw new TestnetError({
        message: `node name ${name} is in use by another process on this testnet: choose another (testnet:NAME)`,
      })
    }
    const address = acquireAddress(this.pool, `${this.info.id}/${name}`)
    this.addresses.push(address)
    this.byName.set(name, address)
    try {
      this.shapes.set(name, address, options.network ?? shapeOf(this.info.network, name))
    } catch (error) {
      this.addresses.pop()
      this.byName.delete(name)
      releaseAddress(this.pool, address)
      throw error
    }
    this.zone.set(new Map([[host, hostEntry(address)]]))
    const config = testnetNodeConfig(this.info.baseConfig, {
      listenHost: host,
      keyPair: generateNodeKeyPair(),
      bootstrap: this.info.bootstrap,
      networkKeyPassword: this.info.networkKeyPassword,
      storageDir: join(this.storageRoot, name),
      namespace: `${this.info.id}-${name}`,
      dht: this.info.dht,
      disableCapabilities: NODE_UNDER_TEST_DISABLED_CAPABILITIES,
    })
    this.configs.set(name, config)
    return config
  }

  release(): void {
    this.shapes.removeAll()
    for (const address of this.addresses.splice(0)) releaseAddress(this.pool, address)
    this.configs.clear()
    this.byName.clear()
  }
}

const environmentOrThrow = (): InsideEnvironment => {
  const environment = insideEnvironment()
  if (environment instanceof NotInTestnet) throw environment
  return environment
}

/** Starts a testnet; resolves once every node is ready. */
export const startTestnet = async (options: TestnetOptions = {}): Promise<Testnet> => {
  const environment = environmentOrThrow()
  const nativePath = resolveNativeBinding(options.native)
  if (nativePath instanceof NativeBindingMissing) throw nativePath
  const nodeCount = options.nodes ?? DEFAULT_NODE_COUNT
  if (!Number.isInteger(nodeCount) || nodeCount < 1) {
    throw new TestnetError({ message: `nodes must be a positive integer, got ${nodeCount}` })
  }
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS
  const dht = options.dht ?? SMALL_NETWORK_DHT
  const network = options.network ?? networkFromEnvironment()
  if (network) {
    validateShape(network)
    for (const shape of Object.values(network.nodes ?? {})) validateShape(shape)
  }
  const shapes = new Shapes()
  const startedAt = Date.now()

  const id = randomBytes(4).toString("hex")
  const root = `${id}.sdwtn.test`
  const networkKeyPassword = randomBytes(24).toString("base64url")
  const pool = namespaceLeasePool(environment.runDir)
  const storageRoot = join(environment.dataDir, id)
  const zone = new ZoneFile(environment.runDir, id)
  const owner = processIdentity()
  const leased: Array<NodeAddress> = []
  let extra: ExtraNodes | undefined
  let host: ChildProcess | undefined
  let stopped: Promise<void> | undefined

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      const child = host
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
        if (child.connected) child.send({ type: "stop" } satisfies HostCommand)
        else child.kill("SIGTERM")
        const timer = setTimeout(() => child.kill("SIGKILL"), HOST_STOP_TIMEOUT_MS)
        await exited
        clearTimeout(timer)
      }
      extra?.release()
      shapes.removeAll()
      for (const address of leased) releaseAddress(pool, address)
      zone.remove()
      rmSync(storageRoot, { recursive: true, force: true })
    })()
    return stopped
  }

  try {
    const keyPairs: Array<NodeKeyPair> = []
    const nodes: Array<TestnetNode> = []
    for (let i = 0; i < nodeCount; i++) {
      const name = `n${i}`
      const address = acquireAddress(pool, `${id}/${name}`, owner)
      leased.push(address)
      shapes.set(name, address, shapeOf(network, name))
      const keyPair = generateNodeKeyPair()
      keyPairs.push(keyPair)
      nodes.push({
        name,
        host: canonicalHost(name, root),
        ipv4: address.ipv4,
        ipv6: address.ipv6,
        port: NODE_PORT,
        publicKey: keyPair.publicKey,
        storageDir: join(storageRoot, name),
      })
    }
    zone.set(
      bootstrapZone(
        root,
        nodes.map((node, i) => ({ ...node, address: leased[i] as NodeAddress })),
      ),
    )

    const output: Array<string> = []
    const child = fork(hostScript(), [nativePath, join(storageRoot, "logs")], {
      execArgv: ["--disable-warning=ExperimentalWarning"],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      serialization: "json",
    })
    host = child
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => tail(output, chunk))
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => tail(output, chunk))

    const states = new Map<string, { state: string; ready: boolean; peers: number }>(
      nodes.map((node) => [node.name, { state: "Starting", ready: false, peers: 0 }]),
    )
    const describeStates = () =>
      nodes
        .map((node) => {
          const s = states.get(node.name)
          return `  ${node.name} ${node.ipv4} ${s?.state} ready=${s?.ready} live_peers=${s?.peers}`
        })
        .join("\n")

    const info = await new Promise<TestnetInfo>((resolve, reject) => {
      let base: VeilidConfigJson | undefined
      let failed = false
      const fail = async (message: string) => {
        if (failed) return
        failed = true
        clearTimeout(helloTimer)
        clearTimeout(readyTimer)
        const notReady = nodes.find((node) => !states.get(node.name)?.ready)
        const logTail = notReady
          ? `\nlast log lines of ${notReady.name}:\n${readTail(join(storageRoot, "logs", `${notReady.name}.log`), 15)}`
          : ""
        const nodeInfo =
          notReady && child.connected
            ? `\nveilid 'debug nodeinfo' of ${notReady.name}:\n${await debugNode(child, notReady.name, "nodeinfo")}`
            : ""
        const hostOutput = output.length > 0 ? `\nhost output:\n${output.join("\n")}` : ""
        reject(
          new TestnetError({
            message: `${message}\n${describeStates()}${logTail}${nodeInfo}${hostOutput}`,
          }),
        )
      }
      const helloTimer = setTimeout(
        () => void fail(`host process did not load the binding within ${HOST_HELLO_TIMEOUT_MS} ms`),
        HOST_HELLO_TIMEOUT_MS,
      )
      const readyTimer = setTimeout(
        () => void fail(`not every node was ready within ${readyTimeoutMs} ms`),
        readyTimeoutMs,
      )
      child.on(
        "exit",
        (code, signal) =>
          void fail(
            `host process exited (code ${code}, signal ${signal}) before the testnet was ready`,
          ),
      )
      child.on("error", (error) => void fail(`host process: ${error.message}`))
      child.on("message", (event: HostEvent) => {
        if (event.type === "hello") {
          clearTimeout(helloTimer)
          try {
            base = JSON.parse(event.defaultConfig) as VeilidConfigJson
            const start: HostCommand = {
              type: "start",
              nodes: nodes.map((node, i) => ({
                name: node.name,
                config: JSON.stringify(
                  testnetNodeConfig(base as VeilidConfigJson, {
                    listenHost: node.host,
                    port: node.port,
                    keyPair: keyPairs[i] as NodeKeyPair,
                    bootstrap: [root],
                    networkKeyPassword,
                    storageDir: node.storageDir,
                    namespace: `${id}-${node.name}`,
                    dht,
                  }),
                ),
              })),
            }
            child.send(start)
          } catch (error) {
            void fail(`cannot make node configs: ${error instanceof Error ? error.message : error}`)
          }
        } else if (event.type === "failed") {
          void fail(`node ${event.name} failed to start: ${event.message}`)
        } else if (event.type === "attachment") {
          states.set(event.name, {
            state: event.state,
            ready: event.publicInternetReady,
            peers: event.livePeers,
          })
          if (base !== undefined && [...states.values()].every((s) => s.ready)) {
            clearTimeout(readyTimer)
            child.removeAllListeners("exit")
            resolve({
              id,
              namespace: environment.namespace,
              bootstrap: [root],
              networkKeyPassword,
              nodes,
              baseConfig: base,
              dht,
              ...(network === undefined ? {} : { network }),
            })
          }
        }
      })
    })

    const extras = new ExtraNodes(info, pool, zone, join(storageRoot, "extra"))
    extra = extras
    return {
      ...info,
      readyAfterMs: Date.now() - startedAt,
      hostPid: child.pid ?? -1,
      nodeConfig: (name, nodeOptions) => extras.config(name, nodeOptions),
      shape: (name, shape) => {
        const index = nodes.findIndex((node) => node.name === name)
        const own = index === -1 ? undefined : leased[index]
        if (own) shapes.set(name, own, shape)
        else {
          const address = extras.address(name)
          if (!address) throw new TestnetError({ message: `no node ${name} in this testnet` })
          extras.shapes.set(name, address, shape)
        }
      },
      debug: (name, command) =>
        host?.connected ? debugNode(host, name, command) : Promise.resolve("(host not running)"),
      stop,
    }
  } catch (error) {
    await stop()
    if (error instanceof TestnetError || error instanceof NotInTestnet) throw error
    throw new TestnetError({
      message: `testnet ${id} did not start: ${error instanceof Error ? error.message : error}`,
      cause: error,
    })
  }
}

/** The testnet as a scoped resource: stopped when the scope closes. */
export const withTestnet = (
  options?: TestnetOptions,
): Effect.Effect<Testnet, TestnetError | NotInTestnet | NativeBindingMissing, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => startTestnet(options),
      catch: (error) =>
        error instanceof TestnetError ||
        error instanceof NotInTestnet ||
        error instanceof NativeBindingMissing
          ? error
          : new TestnetError({ message: String(error), cause: error }),
    }),
    (testnet) => Effect.promise(() => testnet.stop()),
  )

export interface AttachedTestnet extends TestnetInfo {
  readonly nodeConfig: (name: string, options?: NodeConfigOptions) => VeilidConfigJson
  /** Changes the link of a node under test this process configured. */
  readonly shape: (name: string, shape: LinkShape) => void
  /** Frees the addresses and storage of the nodes this process configured. */
  readonly release: () => void
}

/** Removes the node storage of attached processes that died without `release()` (`kill -9`). */
const sweepDeadAttachments = (dir: string): void => {
  let entries: Array<string> = []
  try {
    entries = readdirSync(dir)
  } catch {
    return
  }
  for (const entry of entries) {
    const pid = /^attached-(\d+)$/.exec(entry)?.[1]
    if (pid !== undefined && !isAlive({ pid: Number(pid), startTime: "" })) {
      rmSync(join(dir, entry), { recursive: true, force: true })
    }
  }
}

/** The testnet `veilid-testnet up` runs, seen from `veilid-testnet exec --attach`. */
export const attachTestnet = (): AttachedTestnet => {
  const environment = environmentOrThrow()
  const described = JSON.parse(readFileSync(infoFile(environment.runDir), "utf8")) as TestnetInfo
  // `exec --attach --delay ...` sets the links of this process's nodes under test.
  const fromFlags = networkFromEnvironment()
  const info: TestnetInfo = fromFlags ? { ...described, network: fromFlags } : described
  sweepDeadAttachments(join(environment.dataDir, info.id))
  const storageRoot = join(environment.dataDir, info.id, `attached-${process.pid}`)
  const zone = new ZoneFile(environment.runDir, `${info.id}-p${process.pid}`)
  const extras = new ExtraNodes(info, namespaceLeasePool(environment.runDir), zone, storageRoot)
  return {
    ...info,
    nodeConfig: (name, options) => extras.config(name, options),
    shape: (name, shape) => {
      const address = extras.address(name)
      if (!address)
        throw new TestnetError({ message: `no node ${name} configured by this process` })
      extras.shapes.set(name, address, shape)
    },
    release: () => {
      extras.release()
      zone.remove()
      rmSync(storageRoot, { recursive: true, force: true })
    },
  }
}
