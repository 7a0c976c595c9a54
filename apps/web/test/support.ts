// The built daemon as a child process on a node of the test's testnet, Debian's chromium
// (installed with apt when missing), and axe-core run in a page. Test code only.
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { tempDirRemovedAtExit } from "@save-dweb/test-support/temp-dir"
import type { Testnet } from "@save-dweb/veilid-testnet"
import axe, { type AxeResults } from "axe-core"
import type { Page } from "playwright-core"

export const daemonBin = join(
  import.meta.dirname,
  "..",
  "..",
  "daemon",
  "bin",
  "save-dweb-daemon.mjs",
)

export const backupServerBin = join(
  import.meta.dirname,
  "..",
  "..",
  "backup-server",
  "bin",
  "save-dweb-backup-server.mjs",
)

export const tempDir = (prefix = "sdw-web-") => tempDirRemovedAtExit(prefix)

/** Debian's chromium, installed with apt when missing (shared with the release check). */
export { ensureChromium } from "@save-dweb/test-support/chromium"

export interface Daemon {
  readonly child: ChildProcess
  readonly url: string
  readonly port: number
  readonly token: string
  readonly stderr: () => string
}

/** Starts the built daemon on `node` of the testnet and waits until it listens. */
export const startDaemon = async (testnet: Testnet, node: string): Promise<Daemon> => {
  const dataDir = tempDir()
  const networkFile = join(dataDir, `${node}-veilid.json`)
  writeFileSync(networkFile, JSON.stringify(testnet.nodeConfig(node)))
  const child = spawn(
    process.execPath,
    [
      daemonBin,
      "--data-dir",
      dataDir,
      "--network",
      `config:${networkFile}`,
      "--listen",
      "127.0.0.1:0",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  )
  let stderr = ""
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d
  })
  const deadline = Date.now() + 300_000
  while (Date.now() < deadline) {
    const stateFile = join(dataDir, "daemon.json")
    if (existsSync(stateFile)) {
      const state = JSON.parse(readFileSync(stateFile, "utf8")) as { pid: number; url: string }
      if (state.pid === child.pid) {
        const token = readFileSync(join(dataDir, "rpc-token"), "utf8").trim()
        return {
          child,
          url: state.url,
          port: Number(new URL(state.url).port),
          token,
          stderr: () => stderr,
        }
      }
    }
    if (child.exitCode !== null) throw new Error(`daemon exited ${child.exitCode}:\n${stderr}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill("SIGKILL")
  throw new Error(`daemon not ready:\n${stderr}`)
}

export interface BackupServer {
  readonly child: ChildProcess
  /** The descriptor link it prints (with its access secret). */
  readonly link: string
}

/** Starts the built backup server on `node` of the testnet; resolves with its link. */
export const startBackupServer = (
  testnet: Testnet,
  node: string,
  name: string,
): Promise<BackupServer> => {
  const dataDir = tempDir("sdw-web-box-")
  const networkFile = join(dataDir, `${node}-veilid.json`)
  writeFileSync(networkFile, JSON.stringify(testnet.nodeConfig(node)))
  const child = spawn(
    process.execPath,
    [
      backupServerBin,
      "--data-dir",
      join(dataDir, "box"),
      "--network",
      `config:${networkFile}`,
      "--name",
      name,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  )
  let stderr = ""
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d
  })
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      if (line.startsWith("save+dweb:backup?")) resolve({ child, link: line })
    })
    child.once("exit", (code) => reject(new Error(`backup server exited ${code}:\n${stderr}`)))
  })
}

export interface AxeViolation {
  readonly id: string
  readonly impact: string | null
  readonly help: string
  readonly nodes: number
}

/**
 * axe-core's serious and critical violations on the page as it is. The script goes in
 * through the DevTools protocol: the page's CSP (rightly) refuses inline scripts.
 */
export const seriousViolations = async (page: Page): Promise<ReadonlyArray<AxeViolation>> => {
  await page.evaluate(axe.source)
  const violations = await page.evaluate(async () => {
    const result = await (
      window as unknown as { axe: { run: () => Promise<AxeResults> } }
    ).axe.run()
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? null,
      help: v.help,
      nodes: v.nodes.length,
    }))
  })
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical")
}
