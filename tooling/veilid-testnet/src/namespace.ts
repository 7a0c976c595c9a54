// Network namespaces, seen from outside (root). A testnet namespace holds lo
// and one veth pair whose two ends are both inside, so no packet can leave
// it; one end carries the nodes' addresses and a default route via the
// other, which is what makes Veilid treat those addresses as public.
import { execFileSync } from "node:child_process"
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs"
import { join } from "node:path"
import { Data } from "effect"
import {
  ANCHOR_IP,
  ANCHOR_IPV6,
  DNS_IP,
  GATEWAY_DEVICE,
  GATEWAY_IP,
  GATEWAY_IPV6,
  IPV6_PREFIX_LENGTH,
  NODE_DEVICE,
  PREFIX_LENGTH,
} from "./addresses.ts"
import {
  defaultDataDirOf,
  leasesDir,
  NAMESPACE_PREFIX,
  netnsEtcDirOf,
  runDirOf,
  stateRoot,
  zonesDir,
} from "./environment.ts"
import { ip, ipSync } from "./ip-command.ts"
import { isAlive, type ProcessIdentity } from "./process-info.ts"

export class NamespaceError extends Data.TaggedError("NamespaceError")<{
  readonly message: string
}> {}

export interface NamespaceState {
  readonly namespace: string
  /** `exec`: removed when the command ends; `up`: stays until `down`. */
  readonly kind: "exec" | "up"
  readonly owner: ProcessIdentity
  readonly runDir: string
  readonly dataDir: string
  readonly createdAt: string
}

/** CAP_NET_ADMIN (12) for links and addresses, CAP_SYS_ADMIN (21) for `ip netns`' mounts. */
const REQUIRED_CAPABILITIES = [12n, 21n]

/** Undefined when this process may create namespaces, else why not. `status`: /proc/self/status. */
export const missingPrivilege = (status?: string): string | undefined => {
  let text = status
  if (text === undefined) {
    try {
      text = readFileSync("/proc/self/status", "utf8")
    } catch {
      return "cannot read /proc/self/status: veilid-testnet runs on Linux only"
    }
  }
  const match = /^CapEff:\s*([0-9a-f]+)$/m.exec(text)
  const effective = match?.[1] ? BigInt(`0x${match[1]}`) : 0n
  const missing = REQUIRED_CAPABILITIES.filter((cap) => (effective & (1n << cap)) === 0n)
  if (missing.length === 0) return undefined
  return (
    "veilid-testnet creates a network namespace and needs root " +
    "(CAP_NET_ADMIN and CAP_SYS_ADMIN); run it as root, e.g. `sudo -E veilid-testnet exec -- ...`"
  )
}

export const readState = (namespace: string): NamespaceState | undefined => {
  try {
    return JSON.parse(readFileSync(join(runDirOf(namespace), "state.json"), "utf8"))
  } catch {
    return undefined
  }
}

/** Replaces state.json atomically (readers never see half a file). */
export const writeState = (state: NamespaceState): void => {
  const path = join(state.runDir, "state.json")
  writeFileSync(`${path}.tmp`, JSON.stringify(state, null, 2))
  renameSync(`${path}.tmp`, path)
}

export const listNetns = (): Array<string> =>
  ipSync(["netns", "list"])
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(NAMESPACE_PREFIX))

export const namespacePids = (namespace: string): Array<number> => {
  try {
    return ipSync(["netns", "pids", namespace])
      .split(/\s+/)
      .filter((pid) => pid !== "")
      .map(Number)
  } catch {
    return []
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Ends every process in the namespace: SIGTERM, then SIGKILL after `graceMs`. */
export const killNamespaceProcesses = async (namespace: string, graceMs: number): Promise<void> => {
  // Zombies are dead already (they wait for a parent to reap them): not counted.
  const signalAll = (signal: NodeJS.Signals) => {
    const pids = namespacePids(namespace).filter(
      (pid) => pid !== process.pid && isAlive({ pid, startTime: "" }),
    )
    for (const pid of pids) {
      try {
        process.kill(pid, signal)
      } catch {}
    }
    return pids.length
  }
  if (graceMs > 0 && signalAll("SIGTERM") > 0) {
    const deadline = Date.now() + graceMs
    while (Date.now() < deadline && namespacePids(namespace).length > 0) await sleep(50)
  }
  // A killed process may take a moment to go on a busy machine: wait for it (up to 10 s).
  const deadline = Date.now() + 10_000
  while (signalAll("SIGKILL") > 0 && Date.now() < deadline) await sleep(20)
}

/** Removes a namespace and all it left: processes, /etc/netns/<ns>, run and data dirs. */
export const destroyNamespace = async (namespace: string, graceMs = 0): Promise<void> => {
  const state = readState(namespace)
  if (listNetns().includes(namespace)) {
    await killNamespaceProcesses(namespace, graceMs)
    await ip(["netns", "del", namespace]).catch(() => undefined)
  }
  rmSync(netnsEtcDirOf(namespace), { recursive: true, force: true })
  rmSync(state?.dataDir ?? defaultDataDirOf(namespace), { recursive: true, force: true })
  // Last: while the run dir exists, a later run knows whom the namespace belonged to.
  rmSync(runDirOf(namespace), { recursive: true, force: true })
}

/** Namespaces of this tool whose owner died (crashed runs), with their leftovers. */
export const staleNamespaces = (): Array<string> => {
  const names = new Set<string>(listNetns())
  for (const dir of [stateRoot(), "/etc/netns"]) {
    try {
      for (const name of readdirSync(dir)) if (name.startsWith(NAMESPACE_PREFIX)) names.add(name)
    } catch {}
  }
  return [...names].filter((name) => {
    if (name.includes(".tmp-"))
      return !isAlive({ pid: Number(name.split(".tmp-")[1]), startTime: "" })
    const state = readState(name)
    return state === undefined || !isAlive(state.owner)
  })
}

export const cleanupStale = async (): Promise<Array<string>> => {
  const stale = staleNamespaces()
  for (const name of stale) {
    if (name.includes(".tmp-")) rmSync(join(stateRoot(), name), { recursive: true, force: true })
    else await destroyNamespace(name)
  }
  return stale
}

export interface CreateNamespaceOptions {
  readonly namespace: string
  readonly kind: NamespaceState["kind"]
  readonly owner: ProcessIdentity
}

/**
 * Creates the namespace and its network. The state file comes first, so a
 * concurrent run's cleanup sees a live owner and leaves it alone.
 */
export const createNamespace = async (options: CreateNamespaceOptions): Promise<NamespaceState> => {
  const { namespace } = options
  const runDir = runDirOf(namespace)
  if (existsSync(runDir) || listNetns().includes(namespace)) {
    throw new NamespaceError({ message: `namespace ${namespace} already exists` })
  }
  const state: NamespaceState = {
    namespace,
    kind: options.kind,
    owner: options.owner,
    runDir,
    dataDir: defaultDataDirOf(namespace),
    createdAt: new Date().toISOString(),
  }
  mkdirSync(stateRoot(), { recursive: true })
  const staging = `${runDir}.tmp-${process.pid}`
  mkdirSync(staging, { recursive: true })
  writeFileSync(join(staging, "state.json"), JSON.stringify(state, null, 2))
  try {
    renameSync(staging, runDir)
  } catch {
    rmSync(staging, { recursive: true, force: true })
    throw new NamespaceError({ message: `namespace ${namespace} already exists` })
  }
  try {
    mkdirSync(zonesDir(runDir), { recursive: true })
    mkdirSync(leasesDir(runDir), { recursive: true })
    mkdirSync(state.dataDir, { recursive: true })
    const etc = netnsEtcDirOf(namespace)
    mkdirSync(etc, { recursive: true })
    // `ip netns exec` bind-mounts this over /etc/resolv.conf; libc's resolver
    // (veilid-core 0.5.8 uses res_query) then asks only our server.
    writeFileSync(
      join(etc, "resolv.conf"),
      `# veilid-testnet ${namespace}\nnameserver ${DNS_IP}\noptions timeout:1 attempts:2\n`,
    )
    const inNs = (args: ReadonlyArray<string>) => ipSync(["-n", namespace, ...args])
    ipSync(["netns", "add", namespace])
    inNs(["link", "set", "lo", "up"])
    inNs(["link", "add", NODE_DEVICE, "type", "veth", "peer", "name", GATEWAY_DEVICE])
    for (const device of [NODE_DEVICE, GATEWAY_DEVICE]) {
      // No IPv6 link-local addresses: only the plan's addresses exist.
      inNs(["link", "set", device, "addrgenmode", "none"])
    }
    inNs(["addr", "add", `${GATEWAY_IP}/${PREFIX_LENGTH}`, "dev", GATEWAY_DEVICE])
    inNs(["addr", "add", `${ANCHOR_IP}/${PREFIX_LENGTH}`, "dev", NODE_DEVICE])
    inNs(["link", "set", GATEWAY_DEVICE, "up"])
    inNs(["link", "set", NODE_DEVICE, "up"])
    inNs(["route", "add", "default", "via", GATEWAY_IP, "dev", NODE_DEVICE])
    inNs(["-6", "addr", "add", `${ANCHOR_IPV6}/${IPV6_PREFIX_LENGTH}`, "dev", NODE_DEVICE, "nodad"])
    inNs(["-6", "route", "add", "default", "via", GATEWAY_IPV6, "dev", NODE_DEVICE])
    return state
  } catch (error) {
    await destroyNamespace(namespace)
    throw error
  }
}

/** `ip netns exec <ns> <command...>` as an argv. */
export const inNamespace = (namespace: string, command: ReadonlyArray<string>): Array<string> => [
  "ip",
  "netns",
  "exec",
  namespace,
  ...command,
]

/** Interface and route listing of a namespace, for `status` and diagnostics. */
export const describeNamespace = (namespace: string): string =>
  execFileSync("ip", ["-n", namespace, "-br", "addr"], { encoding: "utf8" }) +
  execFileSync("ip", ["-n", namespace, "route"], { encoding: "utf8" })
