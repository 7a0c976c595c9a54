// Runs the built daemon (bin/save-dweb-daemon.mjs) as a child process on a node of the
// test's private testnet, and samples its memory. Test code only.
import { type ChildProcess, spawn } from "node:child_process"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { tempDirRemovedAtExit } from "@save-dweb/test-support/temp-dir"
import type { Testnet } from "@save-dweb/veilid-testnet"
import { type DaemonState, readState } from "../src/state.ts"

export const daemonBin = join(import.meta.dirname, "..", "bin", "save-dweb-daemon.mjs")

/** A data dir (or other temp dir) for a test or bench, removed when the process exits. */
export const tempDir = (prefix = "sdw-daemon-") => tempDirRemovedAtExit(prefix)

export interface RunningDaemon extends SpawnedDaemon {
  readonly state: DaemonState
  readonly token: string
}

/** Writes `testnet.nodeConfig(node)` where the daemon's `--network config:` reads it. */
export const networkFlag = (testnet: Testnet, node: string, dir: string) => {
  const file = join(dir, `${node}-veilid.json`)
  writeFileSync(file, JSON.stringify(testnet.nodeConfig(node)))
  return `config:${file}`
}

export interface SpawnedDaemon {
  readonly child: ChildProcess
  readonly dataDir: string
  readonly stderr: () => string
  readonly logs: () => Array<Record<string, unknown>>
  readonly exited: Promise<number | null>
}

/** Spawns the daemon without waiting for anything. */
export const spawnDaemon = (
  dataDir: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {},
): SpawnedDaemon => {
  const child = spawn(process.execPath, [daemonBin, "--data-dir", dataDir, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  })
  let stderr = ""
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d
  })
  child.stdout?.resume()
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  )
  const logs = () =>
    stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
  return { child, dataDir, stderr: () => stderr, logs, exited }
}

/** Waits until a spawned daemon listens (its state file names its pid). */
export const awaitReady = async (
  spawned: SpawnedDaemon,
  readyMillis = 300_000,
): Promise<RunningDaemon> => {
  const { child, dataDir } = spawned
  const deadline = Date.now() + readyMillis
  while (Date.now() < deadline) {
    const state = readState(dataDir)
    if (state !== undefined && state.pid === child.pid) {
      const token = readFileSync(join(dataDir, "rpc-token"), "utf8").trim()
      return { ...spawned, state, token }
    }
    if (child.exitCode !== null)
      throw new Error(`daemon exited ${child.exitCode}:\n${spawned.stderr()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  child.kill("SIGKILL")
  throw new Error(`daemon not ready after ${readyMillis} ms:\n${spawned.stderr()}`)
}

/** Spawns the daemon and waits until it listens (its state file names its pid). */
export const startDaemon = (
  dataDir: string,
  args: ReadonlyArray<string>,
  readyMillis = 300_000,
): Promise<RunningDaemon> => awaitReady(spawnDaemon(dataDir, args), readyMillis)

/** Resident set size of a process in bytes, from /proc. */
export const rssOf = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kib = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? Number.NaN)
  return kib * 1024
}

/** Samples `pid`'s RSS every 100 ms until `stop()`; returns the peak seen. */
export const sampleRss = (pid: number) => {
  let peak = 0
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid))
    } catch {
      // The process is gone.
    }
  }, 100)
  return {
    peak: () => peak,
    stop: () => {
      clearInterval(timer)
      return peak
    },
  }
}

/** Kills the daemon with SIGKILL and waits for it to be gone. */
export const kill9 = async (d: SpawnedDaemon) => {
  d.child.kill("SIGKILL")
  await d.exited
}

/** Hashes of the blobs whose bytes are in Iroh's store files (`<hash>.data`) of a data dir. */
export const blobFilesOf = (dataDir: string): Set<string> => {
  const found = new Set<string>()
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith(".data")) found.add(entry.name.slice(0, -".data".length))
    }
  }
  walk(join(dataDir, "backend", "iroh"))
  return found
}
