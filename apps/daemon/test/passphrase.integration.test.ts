// The built daemon with `--passphrase-file` on a private testnet (run inside `veilid-testnet
// exec`), looked at as someone holding a copy of its data dir would: no file holds the
// group's secret, and the daemon does not start without the passphrase or with another.
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { makeClient, type RpcClient } from "@save-dweb/client"
import { startTestnet, type Testnet } from "@save-dweb/veilid-testnet"
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { networkFlag, type RunningDaemon, spawnDaemon, startDaemon, tempDir } from "./harness.ts"

let testnet: Testnet
const scope = Effect.runSync(Scope.make())
const running: Array<RunningDaemon> = []

beforeAll(async () => {
  testnet = await startTestnet({ readyTimeoutMs: 120_000 })
}, 180_000)

afterAll(async () => {
  for (const d of running) if (d.child.exitCode === null) d.child.kill("SIGKILL")
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await testnet?.stop()
}, 60_000)

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
const clientOf = (d: RunningDaemon): Promise<RpcClient> =>
  Effect.runPromise(Scope.provide(scope)(makeClient({ baseUrl: d.state.url, token: d.token })))

/** Files under `dir` holding `secret` as bytes, base64url, base64 or hex. */
const filesHolding = (dir: string, secret: Buffer) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((file) => {
      const bytes = readFileSync(file)
      return [
        secret,
        secret.toString("base64url"),
        secret.toString("base64"),
        secret.toString("hex"),
      ].some((form) => bytes.includes(form))
    })

describe("save-dweb-daemon with --passphrase-file", () => {
  it("keeps no group secret in its data dir, exits 4 without the passphrase or with another, and starts with it", async () => {
    const dir = tempDir()
    const keys = tempDir("sdw-passphrase-")
    const right = join(keys, "right")
    const wrong = join(keys, "wrong")
    writeFileSync(right, "correct horse battery staple\n", { mode: 0o600 })
    writeFileSync(wrong, "correct horse battery stapler\n", { mode: 0o600 })
    const network = networkFlag(testnet, "pass-a", keys)
    const args = (...extra: Array<string>) => [
      "--network",
      network,
      "--listen",
      "127.0.0.1:0",
      ...extra,
    ]

    const a = await startDaemon(dir, args("--passphrase-file", right))
    running.push(a)
    const client = await clientOf(a)
    const g = await run(client.groups.create({ name: "Sources", memberName: "alice" }))
    // A read link carries the group secret itself.
    const link = await run(client.groups.invite(g.key, "read"))
    const secret = Buffer.from(
      new URLSearchParams(link.slice(link.indexOf("?") + 1)).get("secret") ?? "",
      "base64url",
    )
    expect(secret.length).toBe(32)
    a.child.kill("SIGTERM")
    expect(await a.exited).toBe(0)
    expect(filesHolding(dir, secret)).toEqual([])

    for (const extra of [[], ["--passphrase-file", wrong]]) {
      const refused = spawnDaemon(dir, args(...extra))
      expect(await refused.exited).toBe(4)
      expect(refused.stderr()).toMatch(
        extra.length === 0 ? /locked with a passphrase/ : /passphrase does not unlock/,
      )
    }

    // A copy without `passphrase.json`, started without a passphrase or with one of the
    // copier's own: Veilid cannot open its device key, so nothing of the table store opens.
    const copy = tempDir()
    cpSync(dir, copy, { recursive: true })
    rmSync(join(copy, "backend", "passphrase.json"))
    for (const extra of [[], ["--passphrase-file", wrong]]) {
      const stolen = spawnDaemon(copy, args(...extra))
      expect(await stolen.exited).toBe(1)
      expect(stolen.stderr()).toMatch(/device encryption key/)
      expect(readdirSync(copy)).not.toContain("daemon.json")
    }

    const again = await startDaemon(dir, args("--passphrase-file", right))
    running.push(again)
    const groups = await run((await clientOf(again)).groups.list)
    expect(groups.map((s) => [s.key, s.name])).toEqual([[g.key, "Sources"]])
    again.child.kill("SIGTERM")
    expect(await again.exited).toBe(0)
  }, 300_000)
})
