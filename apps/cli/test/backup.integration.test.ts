// `save-dweb backup add|list|remove` with the built CLI, a daemon and a real backup server
// process (`save-dweb-backup-server`, built) on a private Veilid testnet. Run inside
// `veilid-testnet exec` (the package's `test` script does).
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { eventuallyAsync } from "@save-dweb/test-support"
import { tempDirRemovedAtExit } from "@save-dweb/test-support/temp-dir"
import { startTestnet, type Testnet } from "@save-dweb/veilid-testnet"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cliJson, runCli } from "./run-cli.ts"

const serverBin = join(
  import.meta.dirname,
  "..",
  "..",
  "backup-server",
  "bin",
  "save-dweb-backup-server.mjs",
)

let testnet: Testnet
let server: ChildProcess | undefined
const work = tempDirRemovedAtExit("sdw-cli-backup-")
const alice = join(work, "alice")

beforeAll(async () => {
  testnet = await startTestnet({ readyTimeoutMs: 120_000 })
}, 180_000)

afterAll(async () => {
  await runCli(["--data-dir", alice, "daemon", "stop"])
  if (server !== undefined && server.exitCode === null) {
    const exited = new Promise((resolve) => server?.once("exit", resolve))
    server.kill("SIGTERM")
    await exited
  }
  await testnet?.stop()
}, 120_000)

const configFor = (node: string) => {
  const file = join(work, `${node}-veilid.json`)
  writeFileSync(file, JSON.stringify(testnet.nodeConfig(node)))
  return `config:${file}`
}

/** Starts the backup server and resolves with the descriptor link it prints. */
const startServer = () =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        serverBin,
        "--data-dir",
        join(work, "box"),
        "--network",
        configFor("box"),
        "--name",
        "Archive box",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    )
    server = child
    let stderr = ""
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d
    })
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      if (line.startsWith("save+dweb:backup?")) resolve(line)
    })
    child.once("exit", (code) => reject(new Error(`backup server exited ${code}:\n${stderr}`)))
  })

describe("save-dweb backup", () => {
  it("adds a group to a backup server, lists it from both sides, sees it prove its copies, refuses a wrong secret, and removes it", async () => {
    const link = await startServer()
    expect(link).toMatch(/^save\+dweb:backup\?v=1&record=VLD0:.*&name=Archive%20box/)
    const started = await cliJson<{ started: boolean }>([
      "--data-dir",
      alice,
      "daemon",
      "start",
      "--network",
      configFor("alice"),
      "--listen",
      "127.0.0.1:0",
    ])
    expect(started.started).toBe(true)
    const as = (...args: Array<string>) => ["--data-dir", alice, ...args]
    const g = await cliJson<{ key: string }>(
      as("group", "create", "Archive me", "--member-name", "alice"),
    )
    const file = join(work, "evidence.bin")
    writeFileSync(file, randomBytes(150_000))
    await cliJson(as("file", "add", g.key, file))

    // The link is piped in (`-`), so it never shows on a command line.
    const added = await eventuallyAsync(() =>
      cliJson<{ server: string; name: string | null; already: boolean }>(
        as("backup", "add", g.key, "-"),
        link,
      ),
    )
    expect(added).toMatchObject({ name: "Archive box", already: false })

    const listed = await cliJson<Array<{ server: string; listedBy: Array<{ mine: boolean }> }>>(
      as("backup", "list", g.key),
    )
    expect(listed).toEqual([
      expect.objectContaining({
        server: added.server,
        listedBy: [expect.objectContaining({ mine: true })],
      }),
    ])
    expect((await runCli(as("backup", "list", g.key))).stdout).toMatch(/Archive box\s+you/)

    // The server copies the group's encrypted blobs; its own list says so.
    const held = await eventuallyAsync(async () => {
      const gs = await cliJson<
        Array<{ key: string; tier: string; synced: number; lastSyncAt: number | null }>
      >(as("backup", "list", link))
      const mine = gs.find((x) => x.key === g.key)
      if (mine === undefined || mine.synced < 1)
        throw new Error(`not synced yet: ${JSON.stringify(gs)}`)
      return mine
    })
    expect(held.tier).toBe("replicate")

    // The server proves it holds the file: `file copies` lists it, `status GROUP` counts it.
    const copies = await eventuallyAsync(async () => {
      const c = await cliJson<{
        verified: number
        copies: Array<{ name: string; kind: string; status: string; how: string | null }>
      }>(as("file", "copies", g.key, "evidence.bin"))
      if (c.verified < 1) throw new Error(`no verified copy yet: ${JSON.stringify(c)}`)
      return c
    })
    expect(copies.copies).toEqual([
      expect.objectContaining({
        name: "Archive box",
        kind: "backup",
        status: "verified",
        how: "proof",
      }),
    ])
    expect((await runCli(as("file", "copies", g.key, "evidence.bin"))).stdout).toMatch(
      /1 verified copy off this device \(Archive box\)/,
    )
    expect(
      await cliJson<{ keepCopies: number | null }>(
        as("group", "target", g.key, "--keep-copies", "1"),
      ),
    ).toMatchObject({ keepCopies: 1 })
    expect(await cliJson(as("status", g.key))).toMatchObject({
      files: 1,
      safe: 1,
      atLeast: 1,
      target: 1,
    })
    // A new file: `--wait-copies 1` returns once the server copied it and proves it.
    const second = join(work, "second.bin")
    writeFileSync(second, randomBytes(80_000))
    const waited = await cliJson<{ name: string; copies: { verified: number } }>(
      as("file", "add", g.key, second, "--wait-copies", "1", "--wait-timeout", "300"),
    )
    expect(waited.name).toBe("second.bin")
    expect(waited.copies.verified).toBeGreaterThanOrEqual(1)

    // A link with another access secret is refused (exit 5), and says so.
    const forged = link.replace(
      /access=[^&]+/,
      `access=${Buffer.alloc(32, 9).toString("base64url")}`,
    )
    const refused = await runCli(as("backup", "list", forged, "--json"))
    expect(refused.code).toBe(5)
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: "Forbidden" })
    const bad = await runCli(as("backup", "add", g.key, "save+dweb:backup?v=1"))
    expect(bad.code).toBe(5)

    // Removed by its key: the daemon kept its link when it added it.
    const removed = await cliJson<{ reached: boolean; held: boolean; freed: number }>(
      as("backup", "remove", g.key, added.server),
    )
    expect(removed).toMatchObject({ reached: true, held: true })
    expect(removed.freed).toBeGreaterThan(0)
    // Its key no longer names a kept link; its link still reaches it.
    const unknown = await runCli(as("backup", "remove", g.key, added.server, "--json"))
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: "NotFound" })
    expect(await cliJson(as("backup", "remove", g.key, link))).toMatchObject({
      reached: true,
      held: false,
    })
    expect(await cliJson<Array<unknown>>(as("backup", "list", link))).toEqual([])
    expect(await cliJson<Array<unknown>>(as("backup", "list", g.key))).toEqual([])
  }, 400_000)
})
