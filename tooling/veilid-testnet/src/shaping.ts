// Network emulation per node address. The kernel has no netem, so:
//   rate   HTB on lo: an iptables CLASSIFY rule (mangle POSTROUTING, by source
//          address) puts what a node sends into its own HTB class;
//   loss   iptables `statistic` drop (raw PREROUTING, by source address):
//          after the wire, so the sender sees no error, as on a real link;
//   delay  + jitter: NFQUEUE (mangle PREROUTING, by source address) into our
//          delay line (delay-line/, Rust), which accepts each packet after the
//          delay. On arrival, not on send: the loopback device has freed the
//          sender's socket buffer by then, so delay does not cap its window.
// A node's shape is what its own link does to everything it sends: a round
// trip between A and B is delay(A) + delay(B). Only the nodes' own addresses
// are matched, so the DNS server and APIs on 127.0.0.1 are never shaped.
// Everything lives in the namespace and goes with it; `remove()` takes one
// node's rules away sooner.
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Data } from "effect"
import type { NodeAddress } from "./addresses.ts"
import { insideEnvironment, NotInTestnet } from "./environment.ts"

export class ShapingError extends Data.TaggedError("ShapingError")<{
  readonly message: string
}> {}

/** What one node's link does to the packets it sends. Absent or 0: nothing. */
export interface LinkShape {
  /** One-way delay added to every packet the node sends, in ms. */
  readonly delayMs?: number
  /** Each packet's delay varies uniformly by ± this many ms (order is kept). */
  readonly jitterMs?: number
  /** Share of the node's packets lost, in percent (0–100). */
  readonly lossPercent?: number
  /** Uplink rate in Mbit/s (10^6 bit/s). */
  readonly rateMbit?: number
}

/** A shape for every node, and per node name (`n0`, a node under test's name) overrides. */
export interface NetworkShape extends LinkShape {
  readonly nodes?: Readonly<Record<string, LinkShape>>
}

/** Set by `veilid-testnet exec/up --delay ...`: the JSON NetworkShape new testnets default to. */
export const ENV_NETWORK = "SAVE_DWEB_TESTNET_NETWORK"

export const networkFromEnvironment = (): NetworkShape | undefined => {
  const text = process.env[ENV_NETWORK]
  return text ? (JSON.parse(text) as NetworkShape) : undefined
}

/** The shape of node `name` under `network`: its override over the common fields. */
export const shapeOf = (network: NetworkShape | undefined, name: string): LinkShape => {
  if (network === undefined) return {}
  const { nodes, ...common } = network
  return { ...common, ...nodes?.[name] }
}

export const isShaped = (shape: LinkShape): boolean =>
  (shape.delayMs ?? 0) > 0 ||
  (shape.jitterMs ?? 0) > 0 ||
  (shape.lossPercent ?? 0) > 0 ||
  shape.rateMbit !== undefined

export const validateShape = (shape: LinkShape): LinkShape => {
  const check = (name: keyof LinkShape, ok: (value: number) => boolean, rule: string) => {
    const value = shape[name]
    if (value !== undefined && !(Number.isFinite(value) && ok(value))) {
      throw new ShapingError({ message: `${name} must be ${rule}, got ${value}` })
    }
  }
  check("delayMs", (v) => v >= 0 && v <= 60_000, "0–60000 ms")
  check("jitterMs", (v) => v >= 0 && v <= 60_000, "0–60000 ms")
  check("lossPercent", (v) => v >= 0 && v <= 100, "0–100 %")
  check("rateMbit", (v) => v > 0 && v <= 100_000, "more than 0 and at most 100000 Mbit/s")
  return shape
}

const UNITS_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 }
const UNITS_MBIT: Record<string, number> = {
  bit: 1e-6,
  kbit: 1e-3,
  mbit: 1,
  gbit: 1000,
  bps: 8e-6,
  kbps: 8e-3,
  mbps: 8,
  gbps: 8000,
}

const parseWithUnit = (
  flag: string,
  text: string,
  units: Record<string, number>,
  fallback: string,
): number => {
  const match = /^([0-9]+(?:\.[0-9]+)?)\s*([a-z%]*)$/i.exec(text.trim())
  const factor = units[(match?.[2] || fallback).toLowerCase()]
  if (!match || factor === undefined) {
    throw new ShapingError({
      message: `--${flag} ${text}: expected a number with one of ${Object.keys(units).join(", ")}`,
    })
  }
  return Number(match[1]) * factor
}

/** `--delay 25ms --jitter 2ms --loss 0.5% --rate 10mbit` (tc's units; mbit = 10^6 bit/s). */
export const parseLinkShape = (flags: {
  readonly delay?: string | undefined
  readonly jitter?: string | undefined
  readonly loss?: string | undefined
  readonly rate?: string | undefined
}): LinkShape =>
  validateShape({
    ...(flags.delay === undefined
      ? {}
      : { delayMs: parseWithUnit("delay", flags.delay, UNITS_MS, "ms") }),
    ...(flags.jitter === undefined
      ? {}
      : { jitterMs: parseWithUnit("jitter", flags.jitter, UNITS_MS, "ms") }),
    ...(flags.loss === undefined
      ? {}
      : { lossPercent: parseWithUnit("loss", flags.loss, { "%": 1 }, "%") }),
    ...(flags.rate === undefined
      ? {}
      : { rateMbit: parseWithUnit("rate", flags.rate, UNITS_MBIT, "mbit") }),
  })

/** `n0:delay=100ms,rate=5mbit`: one node's override, as `--node` takes it. */
export const parseNodeShape = (text: string): [string, LinkShape] => {
  const [name, spec = ""] = text.split(":", 2)
  if (!name || !/^[a-z0-9-]{1,40}$/.test(name)) {
    throw new ShapingError({ message: `--node ${text}: expected NAME:delay=25ms,rate=10mbit,...` })
  }
  const flags: Record<string, string> = {}
  for (const part of spec.split(",").filter((p) => p !== "")) {
    const [key = "", value] = part.split("=", 2)
    if (!["delay", "jitter", "loss", "rate"].includes(key) || value === undefined) {
      throw new ShapingError({ message: `--node ${text}: unknown or empty setting ${part}` })
    }
    flags[key] = value
  }
  return [name, parseLinkShape(flags)]
}

export const describeShape = (shape: LinkShape): string =>
  [
    shape.delayMs ? `delay ${shape.delayMs} ms` : "",
    shape.jitterMs ? `jitter ±${shape.jitterMs} ms` : "",
    shape.lossPercent ? `loss ${shape.lossPercent} %` : "",
    shape.rateMbit !== undefined ? `rate ${shape.rateMbit} Mbit/s` : "",
  ]
    .filter((part) => part !== "")
    .join(", ") || "unshaped"

// --- the delay line binary ---------------------------------------------------

const crateDir = fileURLToPath(new URL("../delay-line/", import.meta.url))
const BINARY_NAME = "veilid-testnet-delay-line"

/** Cargo target dir of the delay line (its own: never waits on the Veilid build's lock). */
const delayLineTarget = (): string =>
  process.env.SAVE_DWEB_DELAY_LINE_TARGET ??
  join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "save-dweb", "delay-line-target")

const mtime = (path: string): number => {
  try {
    return statSync(path).mtimeMs
  } catch {
    return 0
  }
}

/** The delay line's path, built with cargo first when missing or older than its source. */
export const delayLineBinary = (): string => {
  const binary = join(delayLineTarget(), "release", BINARY_NAME)
  const source = Math.max(
    mtime(join(crateDir, "src", "main.rs")),
    mtime(join(crateDir, "Cargo.toml")),
    mtime(join(crateDir, "Cargo.lock")),
  )
  if (existsSync(binary) && mtime(binary) >= source) return binary
  try {
    execFileSync(
      "cargo",
      [
        "build",
        "--release",
        "--locked",
        "--quiet",
        "--manifest-path",
        join(crateDir, "Cargo.toml"),
      ],
      {
        env: { ...process.env, CARGO_TARGET_DIR: delayLineTarget() },
        stdio: ["ignore", "ignore", "pipe"],
      },
    )
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? String(error)
    throw new ShapingError({
      message: `cannot build the delay line (${crateDir}) with cargo: ${stderr.slice(-2000)}`,
    })
  }
  return binary
}

// --- applying a shape ---------------------------------------------------------

const run = (command: string, args: ReadonlyArray<string>): void => {
  try {
    execFileSync(command, args, { stdio: ["ignore", "ignore", "pipe"] })
  } catch (error) {
    const code = (error as { code?: string }).code
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim()
    const hint =
      code === "ENOENT"
        ? command === "tc"
          ? "the `tc` command (iproute2) is not installed"
          : `the \`${command}\` command is not installed (Debian: apt-get install iptables)`
        : stderr || String(error)
    throw new ShapingError({ message: `${command} ${args.join(" ")}: ${hint}` })
  }
}

const quietly = (command: string, args: ReadonlyArray<string>): void => {
  try {
    run(command, args)
  } catch {}
}

/** Waits (blocking, a few ms) until a process has bound NFQUEUE `queue`. */
const waitForQueue = (queue: number, child: ChildProcess, stderr: () => string): void => {
  const deadline = Date.now() + 5_000
  const pause = new Int32Array(new SharedArrayBuffer(4))
  while (Date.now() < deadline) {
    let bound = ""
    try {
      bound = readFileSync("/proc/net/netfilter/nfnetlink_queue", "utf8")
    } catch {}
    if (bound.split("\n").some((line) => line.trim().split(/\s+/)[0] === String(queue))) return
    if (child.exitCode !== null) break
    Atomics.wait(pause, 0, 0, 5)
  }
  child.kill("SIGKILL")
  throw new ShapingError({
    message: `the delay line did not bind NFQUEUE ${queue}: ${stderr() || "no output"}`,
  })
}

const LO = "lo"
const HTB_ROOT = "1:"

/** NFQUEUE number and HTB class of a leased address: unique in its namespace. */
const slotOf = (address: NodeAddress) => ({
  queue: address.index + 1,
  classId: `1:${(address.index + 2).toString(16)}`,
})

/**
 * Applied shapes are recorded in the run directory, one file per address: the
 * rules of a process that died without `remove()` stay in the namespace (its
 * delay line dies with it), and must go before its address is leased again.
 */
const markerOf = (address: NodeAddress, runDir?: string): string | undefined => {
  const environment = runDir === undefined ? insideEnvironment() : undefined
  const dir = runDir ?? (environment instanceof NotInTestnet ? undefined : environment?.runDir)
  return dir === undefined ? undefined : join(dir, "shapes", address.ipv4)
}

/** Removes the rules a dead process left for `address`, if it left any. */
export const clearLeftoverShape = (runDir: string, address: NodeAddress): void => {
  const marker = markerOf(address, runDir)
  if (marker === undefined || !existsSync(marker)) return
  const sources: ReadonlyArray<[string, string]> = [
    ["iptables", `-s ${address.ipv4}/32 `],
    ["ip6tables", `-s ${address.ipv6}/128 `],
  ]
  for (const [command, source] of sources) {
    for (const table of ["mangle", "raw"]) {
      let listed = ""
      try {
        listed = execFileSync(command, ["-w", "-t", table, "-S"], { encoding: "utf8" })
      } catch {}
      for (const line of listed.split("\n")) {
        if (!line.startsWith("-A ") || !`${line} `.includes(source)) continue
        quietly(command, ["-w", "-t", table, "-D", ...line.slice(3).split(" ")])
      }
    }
  }
  quietly("tc", ["class", "del", "dev", LO, "classid", slotOf(address).classId])
  rmSync(marker, { force: true })
}

export interface AppliedShape {
  readonly shape: LinkShape
  /** Takes the node's rules and its delay line away. Idempotent. */
  readonly remove: () => void
}

/**
 * Applies `shape` to what the node at `address` sends; synchronous, so it is
 * in force before the caller starts the node. Run inside the namespace.
 */
export const applyShape = (address: NodeAddress, shape: LinkShape): AppliedShape => {
  validateShape(shape)
  const undo: Array<() => void> = []
  const remove = () => {
    for (const step of undo.splice(0).reverse()) step()
  }
  if (!isShaped(shape)) return { shape, remove }
  const marker = markerOf(address)
  if (marker !== undefined) {
    mkdirSync(join(marker, ".."), { recursive: true })
    writeFileSync(marker, `${process.pid}\n`)
    undo.push(() => rmSync(marker, { force: true }))
  }
  const { queue, classId } = slotOf(address)
  const sources: ReadonlyArray<[string, string]> = [
    ["iptables", `${address.ipv4}/32`],
    ["ip6tables", `${address.ipv6}/128`],
  ]
  const rule = (table: string, chain: string, spec: ReadonlyArray<string>) => {
    for (const [command, source] of sources) {
      const match = [chain, "-s", source, ...spec]
      run(command, ["-w", "-t", table, "-A", ...match])
      undo.push(() => quietly(command, ["-w", "-t", table, "-D", ...match]))
    }
  }
  try {
    const rate = shape.rateMbit
    if (rate !== undefined) {
      // One HTB root on lo for the whole namespace. Unclassified traffic (DNS, APIs,
      // unshaped nodes) takes HTB's direct path, unlimited, whose queue is made far
      // longer than lo's 1,000 packets so that loopback bursts are not dropped there.
      quietly("tc", [
        ...["qdisc", "add", "dev", LO, "root", "handle", HTB_ROOT],
        ...["htb", "direct_qlen", "100000"],
      ])
      const bitsPerSecond = Math.round(rate * 1e6)
      run("tc", [
        ...["class", "replace", "dev", LO, "parent", HTB_ROOT, "classid", classId],
        ...["htb", "rate", `${bitsPerSecond}bit`, "ceil", `${bitsPerSecond}bit`],
      ])
      undo.push(() => quietly("tc", ["class", "del", "dev", LO, "classid", classId]))
      // The uplink's buffer: 100 ms at the rate (at least two 64 KiB loopback packets).
      const limit = Math.max(Math.round(bitsPerSecond / 80), 2 * 65_536 + 4096)
      run("tc", [
        ...["qdisc", "replace", "dev", LO, "parent", classId],
        ...["bfifo", "limit", String(limit)],
      ])
      rule("mangle", "POSTROUTING", ["-j", "CLASSIFY", "--set-class", classId])
    }
    const loss = shape.lossPercent ?? 0
    if (loss > 0) {
      rule("raw", "PREROUTING", [
        ...["-m", "statistic", "--mode", "random"],
        ...["--probability", (loss / 100).toFixed(6), "-j", "DROP"],
      ])
    }
    if ((shape.delayMs ?? 0) > 0 || (shape.jitterMs ?? 0) > 0) {
      const child = spawn(
        delayLineBinary(),
        [
          ...["--queue", String(queue)],
          ...["--delay-us", String(Math.round((shape.delayMs ?? 0) * 1000))],
          ...["--jitter-us", String(Math.round((shape.jitterMs ?? 0) * 1000))],
        ],
        { stdio: ["pipe", "ignore", "pipe"] },
      )
      let stderr = ""
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk
      })
      // Closing its standard input ends it; it never keeps this process alive.
      undo.push(() => {
        child.stdin?.end()
        child.kill("SIGTERM")
      })
      child.unref()
      for (const stream of [child.stdin, child.stderr])
        (stream as { unref?: () => void })?.unref?.()
      waitForQueue(queue, child, () => stderr.trim())
      rule("mangle", "PREROUTING", ["-j", "NFQUEUE", "--queue-num", String(queue)])
    }
  } catch (error) {
    remove()
    throw error
  }
  return { shape, remove }
}
