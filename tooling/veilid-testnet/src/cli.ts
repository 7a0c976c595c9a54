// veilid-testnet: run a command inside a fresh testnet namespace (exec), or
// keep a testnet running for the demo and benchmarks (up / down).
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { DNS_IP, DNS_PORT } from "./addresses.ts"
import { startDnsServer } from "./dns-server.ts"
import {
  ENV_DATA_DIR,
  ENV_INFO,
  ENV_NAMESPACE,
  ENV_RUN_DIR,
  infoFile,
  leasesDir,
  NAMESPACE_PREFIX,
  zonesDir,
} from "./environment.ts"
import { listLeases } from "./leases.ts"
import {
  cleanupStale,
  createNamespace,
  destroyNamespace,
  inNamespace,
  listNetns,
  missingPrivilege,
  type NamespaceState,
  readState,
  writeState,
} from "./namespace.ts"
import { isAlive, processIdentity } from "./process-info.ts"
import {
  delayLineBinary,
  describeShape,
  ENV_NETWORK,
  type LinkShape,
  type NetworkShape,
  parseLinkShape,
  parseNodeShape,
} from "./shaping.ts"
import {
  DEFAULT_NODE_COUNT,
  DEFAULT_READY_TIMEOUT_MS,
  startTestnet,
  type TestnetInfo,
} from "./testnet.ts"
import { readZoneDir } from "./zone-dir.ts"

const USAGE = `usage:
  veilid-testnet exec [--] <command...>          run a command in a new private testnet namespace
  veilid-testnet exec --attach <name> [--] <command...>   run a command inside a running \`up\` testnet
  veilid-testnet up [--name demo] [--nodes ${DEFAULT_NODE_COUNT}] [--timeout ${DEFAULT_READY_TIMEOUT_MS / 1000}]
                                                  start a testnet that stays up (namespace sdwtn-<name>)
  veilid-testnet down [<name>]                    stop it and remove its namespace
  veilid-testnet status                           list testnet namespaces
  veilid-testnet cleanup                          remove what crashed runs left behind
emulated network (exec, up; every node, testnet nodes and nodes under test):
  --delay 25ms --jitter 2ms --loss 0.5% --rate 10mbit
                                                  one-way delay, ± jitter, loss and uplink rate of what each node sends
  --node n0:delay=100ms,rate=5mbit                one node's own values (repeatable; nodes under test by their name)`

const self = fileURLToPath(import.meta.url)
const nodeArgv = (args: ReadonlyArray<string>) => [process.execPath, self, ...args]

const fail = (message: string, code = 1): never => {
  console.error(`veilid-testnet: ${message}`)
  process.exit(code)
}

const requirePrivilege = (): void => {
  const missing = missingPrivilege()
  if (missing) fail(missing, 77)
}

const insideEnv = (state: NamespaceState): NodeJS.ProcessEnv => ({
  ...process.env,
  [ENV_NAMESPACE]: state.namespace,
  [ENV_RUN_DIR]: state.runDir,
  [ENV_DATA_DIR]: state.dataDir,
})

const NETWORK_FLAGS = {
  delay: { type: "string" },
  jitter: { type: "string" },
  loss: { type: "string" },
  rate: { type: "string" },
  node: { type: "string", multiple: true },
} as const

interface NetworkFlags {
  readonly delay?: string | undefined
  readonly jitter?: string | undefined
  readonly loss?: string | undefined
  readonly rate?: string | undefined
  readonly node?: ReadonlyArray<string> | undefined
}

/** The flags' network as the environment variable testnets read, or {} when none was given. */
const networkEnv = (flags: NetworkFlags): NodeJS.ProcessEnv => {
  let network: NetworkShape
  try {
    const nodes: Record<string, LinkShape> = Object.fromEntries(
      (flags.node ?? []).map(parseNodeShape),
    )
    network = { ...parseLinkShape(flags), ...(flags.node?.length ? { nodes } : {}) }
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error), 2)
  }
  const shapes = [network, ...Object.values(network.nodes ?? {})]
  if (shapes.every((shape) => Object.keys(shape).length === 0)) return {}
  // Built here, outside the namespace, where cargo can reach its registry if it must.
  if (shapes.some((shape) => (shape.delayMs ?? 0) > 0 || (shape.jitterMs ?? 0) > 0)) {
    try {
      delayLineBinary()
    } catch (error) {
      return fail(error instanceof Error ? error.message : String(error))
    }
  }
  return { [ENV_NETWORK]: JSON.stringify(network) }
}

const FORWARDED: ReadonlyArray<NodeJS.Signals> = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"]

/**
 * Runs argv and resolves with its exit code (128 + signal number when killed).
 * Signals sent to us go to the child; a terminal's Ctrl-C already reaches the
 * child through the process group, so SIGINT is only forwarded without a TTY.
 */
const runForwardingSignals = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  new Promise<number>((resolve) => {
    const [command = "", ...args] = argv
    const child = spawn(command, args, { stdio: "inherit", env })
    const handlers = FORWARDED.map((signal) => {
      const handler = () => {
        if (signal === "SIGINT" && process.stdin.isTTY) return
        child.kill(signal)
      }
      process.on(signal, handler)
      return [signal, handler] as const
    })
    const done = (code: number) => {
      for (const [signal, handler] of handlers) process.off(signal, handler)
      resolve(code)
    }
    child.on("error", (error) => {
      console.error(`veilid-testnet: cannot run ${command}: ${error.message}`)
      done(127)
    })
    child.on("exit", (code, signal) => {
      const signals: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1, SIGKILL: 9 }
      done(code ?? 128 + (signal ? (signals[signal] ?? 1) : 1))
    })
  })

/** Starts the namespace's DNS server as its own process and waits until it listens. */
const startDnsProcess = (state: NamespaceState): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const [command = "", ...args] = inNamespace(state.namespace, nodeArgv(["__dns", state.runDir]))
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] })
    const timer = setTimeout(() => reject(new Error("DNS server did not start in 10 s")), 10_000)
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      if (chunk.includes("ready")) {
        clearTimeout(timer)
        resolve(child)
      }
    })
    child.on("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`DNS server exited with code ${code}`))
    })
  })

const exec = async (
  command: ReadonlyArray<string>,
  extraEnv: NodeJS.ProcessEnv,
): Promise<number> => {
  if (command.length === 0) fail(`exec needs a command\n${USAGE}`, 2)
  requirePrivilege()
  await cleanupStale()
  const namespace = `${NAMESPACE_PREFIX}${randomBytes(4).toString("hex")}`
  // Until the command runs, a signal means: clean up and leave.
  let interrupted = false
  const interrupt = () => {
    interrupted = true
  }
  for (const signal of FORWARDED) process.on(signal, interrupt)
  let code = 1
  try {
    const state = await createNamespace({ namespace, kind: "exec", owner: processIdentity() })
    await startDnsProcess(state)
    for (const signal of FORWARDED) process.off(signal, interrupt)
    code = interrupted
      ? 130
      : await runForwardingSignals(inNamespace(namespace, command), {
          ...insideEnv(state),
          ...extraEnv,
        })
  } catch (error) {
    console.error(`veilid-testnet: ${error instanceof Error ? error.message : error}`)
  } finally {
    await destroyNamespace(namespace, 2000)
  }
  return code
}

const attachedState = (name: string): NamespaceState => {
  const namespace = `${NAMESPACE_PREFIX}${name}`
  const state = readState(namespace)
  if (!state || !isAlive(state.owner) || !listNetns().includes(namespace)) {
    return fail(`no testnet '${name}' is up (start it with \`veilid-testnet up --name ${name}\`)`)
  }
  return state
}

const execAttached = async (
  name: string,
  command: ReadonlyArray<string>,
  extraEnv: NodeJS.ProcessEnv,
): Promise<number> => {
  if (command.length === 0) fail(`exec needs a command\n${USAGE}`, 2)
  requirePrivilege()
  const state = attachedState(name)
  return runForwardingSignals(inNamespace(state.namespace, command), {
    ...insideEnv(state),
    [ENV_INFO]: infoFile(state.runDir),
    ...extraEnv,
  })
}

const describeInfo = (state: NamespaceState, info: TestnetInfo & { readyAfterMs?: number }) => {
  const name = state.namespace.slice(NAMESPACE_PREFIX.length)
  return [
    `testnet '${name}' is up: namespace ${state.namespace}, ${info.nodes.length} nodes` +
      (info.readyAfterMs === undefined
        ? ""
        : `, ready after ${(info.readyAfterMs / 1000).toFixed(1)} s`),
    `  bootstrap:            ${info.bootstrap.join(", ")}`,
    `  network_key_password: ${info.networkKeyPassword}`,
    `  nodes:                ${info.nodes.map((node) => `${node.name}=${node.ipv4},${node.ipv6}`).join(" ")}`,
    ...(info.network
      ? [
          `  network:              ${describeShape(info.network)}` +
            Object.entries(info.network.nodes ?? {})
              .map(([node, shape]) => `; ${node}: ${describeShape(shape)}`)
              .join(""),
        ]
      : []),
    `  description:          ${infoFile(state.runDir)}`,
    `  run a command in it:  veilid-testnet exec --attach ${name} -- <command...>`,
    `  stop it:              veilid-testnet down ${name}`,
  ].join("\n")
}

const up = async (
  name: string,
  nodes: number,
  timeoutMs: number,
  extraEnv: NodeJS.ProcessEnv,
): Promise<number> => {
  if (!/^[a-z0-9-]{1,40}$/.test(name)) fail(`--name must be [a-z0-9-]{1,40}: ${name}`, 2)
  requirePrivilege()
  await cleanupStale()
  const namespace = `${NAMESPACE_PREFIX}${name}`
  const existing = readState(namespace)
  if (existing && existsSync(infoFile(existing.runDir))) {
    console.log(describeInfo(existing, JSON.parse(readFileSync(infoFile(existing.runDir), "utf8"))))
    return 0
  }
  const state = await createNamespace({ namespace, kind: "up", owner: processIdentity() })
  const log = join(state.runDir, "serve.log")
  const logFd = openSync(log, "a")
  const [command = "", ...args] = inNamespace(
    namespace,
    nodeArgv(["__serve", state.runDir, String(nodes), String(timeoutMs)]),
  )
  const serve = spawn(command, args, {
    stdio: ["ignore", logFd, logFd],
    env: { ...insideEnv(state), ...extraEnv },
    detached: true,
  })
  serve.unref()
  if (serve.pid === undefined) {
    await destroyNamespace(namespace)
    return fail("cannot start the testnet process")
  }
  // From here on the serve process owns the namespace.
  writeState({ ...state, owner: processIdentity(serve.pid) })
  const deadline = Date.now() + timeoutMs + 30_000
  while (!existsSync(infoFile(state.runDir))) {
    if (serve.exitCode !== null || Date.now() > deadline) {
      const output = readFileSync(log, "utf8").trimEnd().split("\n").slice(-30).join("\n")
      await destroyNamespace(namespace, 5000)
      return fail(`testnet '${name}' did not come up:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  console.log(describeInfo(state, JSON.parse(readFileSync(infoFile(state.runDir), "utf8"))))
  return 0
}

const down = async (name: string): Promise<number> => {
  requirePrivilege()
  const namespace = `${NAMESPACE_PREFIX}${name}`
  const state = readState(namespace)
  if (!state && !listNetns().includes(namespace)) {
    console.log(`no testnet '${name}'`)
    return 0
  }
  // The serve process stops its nodes on SIGTERM; give it time before the sweep.
  await destroyNamespace(namespace, 20_000)
  console.log(`testnet '${name}' is down`)
  return 0
}

const status = (): number => {
  const names = new Set(listNetns())
  if (names.size === 0) console.log("no testnet namespaces")
  for (const namespace of names) {
    const state = readState(namespace)
    const alive = state ? isAlive(state.owner) : false
    const leases = state ? listLeases({ dir: leasesDir(state.runDir) }).length : 0
    console.log(
      `${namespace}  ${state?.kind ?? "?"}  owner ${state?.owner.pid ?? "?"} ${alive ? "alive" : "dead (stale)"}  ${leases} addresses leased`,
    )
  }
  return 0
}

/** Inside the namespace: the DNS server for every testnet's zone. */
const dnsDaemon = async (runDir: string): Promise<number> => {
  const server = await startDnsServer({
    host: DNS_IP,
    port: DNS_PORT,
    zone: () => readZoneDir(zonesDir(runDir)),
  })
  process.stdout.write("ready\n")
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve)
    process.once("SIGINT", resolve)
  })
  await server.close()
  return 0
}

/** Inside the namespace: DNS plus one testnet, until SIGTERM (`up`). */
const serveDaemon = async (runDir: string, nodes: number, timeoutMs: number): Promise<number> => {
  const server = await startDnsServer({
    host: DNS_IP,
    port: DNS_PORT,
    zone: () => readZoneDir(zonesDir(runDir)),
  })
  const testnet = await startTestnet({ nodes, readyTimeoutMs: timeoutMs })
  const { nodeConfig: _nodeConfig, stop: _stop, ...info } = testnet
  writeFileSync(`${infoFile(runDir)}.tmp`, JSON.stringify(info, null, 2))
  renameSync(`${infoFile(runDir)}.tmp`, infoFile(runDir))
  console.log(`ready after ${testnet.readyAfterMs} ms`)
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve)
    process.once("SIGINT", resolve)
  })
  await testnet.stop()
  await server.close()
  return 0
}

const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const separator = argv.indexOf("--")
  const head = separator === -1 ? [...argv] : argv.slice(0, separator)
  const [subcommand, ...rest] = head
  switch (subcommand) {
    case "exec": {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { attach: { type: "string" }, ...NETWORK_FLAGS },
        allowPositionals: true,
        strict: true,
      })
      const command =
        separator === -1 ? positionals : [...positionals, ...argv.slice(separator + 1)]
      const env = networkEnv(values)
      return values.attach ? execAttached(values.attach, command, env) : exec(command, env)
    }
    case "up": {
      const { values } = parseArgs({
        args: rest,
        options: {
          name: { type: "string", default: "demo" },
          nodes: { type: "string", default: String(DEFAULT_NODE_COUNT) },
          timeout: { type: "string", default: String(DEFAULT_READY_TIMEOUT_MS / 1000) },
          ...NETWORK_FLAGS,
        },
      })
      return up(
        values.name,
        Number(values.nodes),
        Number(values.timeout) * 1000,
        networkEnv(values),
      )
    }
    case "down":
      return down(rest[0] ?? "demo")
    case "status":
      return status()
    case "cleanup": {
      requirePrivilege()
      const removed = await cleanupStale()
      console.log(removed.length ? `removed ${removed.join(", ")}` : "nothing to clean up")
      return 0
    }
    case "__dns":
      return dnsDaemon(rest[0] ?? fail("__dns <run dir>", 2))
    case "__serve":
      return serveDaemon(
        rest[0] ?? fail("__serve <run dir> <nodes> <timeout ms>", 2),
        Number(rest[1]),
        Number(rest[2]),
      )
    default:
      console.error(USAGE)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => fail(error instanceof Error ? (error.stack ?? error.message) : String(error)),
)
