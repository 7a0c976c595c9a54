// The wrapper itself, run from inside the test namespace (namespaces nest:
// each run makes its own, whatever namespace it starts from).
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { defaultDataDirOf, netnsEtcDirOf, runDirOf } from "../src/environment.ts"
import { NativeBindingMissing, resolveNativeBinding } from "../src/native.ts"
import { isAlive } from "../src/process-info.ts"

const cli = fileURLToPath(new URL("../bin/veilid-testnet.mjs", import.meta.url))
const namespaces = () =>
  execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.split(" ")[0])
const gone = (ns: string) =>
  !namespaces().includes(ns) &&
  !existsSync(runDirOf(ns)) &&
  !existsSync(netnsEtcDirOf(ns)) &&
  !existsSync(defaultDataDirOf(ns))

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const run = (args: ReadonlyArray<string>, options: { prefix?: Array<string> } = {}): Promise<Run> =>
  new Promise((resolve) => {
    const [command = "", ...rest] = [...(options.prefix ?? []), process.execPath, cli, ...args]
    const child = spawn(command, rest, { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("exit", (code) => resolve({ code, stdout, stderr }))
  })

/** Starts the wrapper and resolves once the inner command printed its namespace. */
const startLong = (command: string): Promise<{ child: ChildProcess; ns: string; inner: number }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, "exec", "--", "sh", "-c", command], {
      stdio: ["ignore", "pipe", "inherit"],
    })
    let out = ""
    child.stdout?.on("data", (chunk) => {
      out += chunk
      const match = /^(sdwtn-\S+) (\d+)$/m.exec(out)
      if (match?.[1] && match[2]) resolve({ child, ns: match[1], inner: Number(match[2]) })
    })
    child.on("exit", (code) => reject(new Error(`wrapper exited early (${code}): ${out}`)))
  })

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null
      ? resolve(child.exitCode)
      : child.on("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))),
  )

describe("veilid-testnet exec", () => {
  it("runs the command in a fresh namespace, passes its exit code, and removes everything", async () => {
    const result = await run(["exec", "--", "sh", "-c", 'echo "$SAVE_DWEB_TESTNET"; exit 7'])
    expect(result.code).toBe(7)
    const ns = result.stdout.trim()
    expect(ns).toMatch(/^sdwtn-[0-9a-f]{8}$/)
    expect(gone(ns)).toBe(true)
  })

  it("kills what the command left running", async () => {
    const result = await run(["exec", "--", "sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"])
    expect(result.code).toBe(0)
    const orphan = Number(result.stdout.trim())
    expect(isAlive({ pid: orphan, startTime: "" })).toBe(false)
  })

  it("forwards SIGTERM to the command and still cleans up", async () => {
    const { child, ns, inner } = await startLong('echo "$SAVE_DWEB_TESTNET $$"; exec sleep 300')
    expect(namespaces()).toContain(ns)
    child.kill("SIGTERM")
    expect(await exited(child)).toBe(143)
    expect(isAlive({ pid: inner, startTime: "" })).toBe(false)
    expect(gone(ns)).toBe(true)
  })

  it("removes what a crashed run left: its namespace, processes and directories", async () => {
    const { child, ns, inner } = await startLong('echo "$SAVE_DWEB_TESTNET $$"; exec sleep 300')
    child.kill("SIGKILL")
    await exited(child)
    expect(namespaces()).toContain(ns)
    expect(isAlive({ pid: inner, startTime: "" })).toBe(true)
    // A state directory whose owner never existed, with no namespace at all.
    const ghost = `sdwtn-${randomBytes(4).toString("hex")}`
    mkdirSync(runDirOf(ghost), { recursive: true })
    writeFileSync(
      join(runDirOf(ghost), "state.json"),
      JSON.stringify({ namespace: ghost, owner: { pid: 2 ** 22 + 1, startTime: "1" } }),
    )
    mkdirSync(netnsEtcDirOf(ghost), { recursive: true })
    const result = await run(["exec", "--", "true"])
    expect(result.code).toBe(0)
    expect(gone(ns)).toBe(true)
    expect(gone(ghost)).toBe(true)
    expect(isAlive({ pid: inner, startTime: "" })).toBe(false)
  }, 30_000)

  const setpriv = spawnSync("setpriv", ["--version"]).status === 0
  it.skipIf(!setpriv)("refuses to run without root's capabilities, and says why", async () => {
    // Root with every capability dropped: what a normal user has.
    const prefix = [
      "setpriv",
      "--bounding-set",
      "-all",
      "--inh-caps",
      "-all",
      "--ambient-caps",
      "-all",
      "--",
    ]
    const result = await run(["exec", "--", "true"], { prefix })
    expect(result.code).toBe(77)
    expect(result.stderr).toMatch(/needs root \(CAP_NET_ADMIN and CAP_SYS_ADMIN\)/)
  })

  it("hands the emulated network of its flags to the command's testnets, and refuses nonsense", async () => {
    const result = await run([
      ...["exec", "--delay", "25ms", "--jitter", "2ms", "--loss", "0.5%", "--rate", "10mbit"],
      ...["--node", "n0:delay=100ms,rate=5mbit", "--"],
      ...["sh", "-c", 'echo "$SAVE_DWEB_TESTNET_NETWORK"'],
    ])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({
      delayMs: 25,
      jitterMs: 2,
      lossPercent: 0.5,
      rateMbit: 10,
      nodes: { n0: { delayMs: 100, rateMbit: 5 } },
    })
    const unshaped = await run(["exec", "--", "sh", "-c", 'echo "[$SAVE_DWEB_TESTNET_NETWORK]"'])
    expect(unshaped.stdout.trim()).toBe("[]")
    const wrong = await run(["exec", "--rate", "fast", "--", "true"])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain("--rate fast")
  }, 30_000)

  it("explains its usage", async () => {
    const result = await run(["frobnicate"])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("veilid-testnet exec")
  })
})

const missing = resolveNativeBinding() instanceof NativeBindingMissing && !process.env.CI

describe.skipIf(missing)("veilid-testnet up / exec --attach / down", () => {
  it("keeps a testnet up that other commands attach to, until down", async () => {
    const name = `t${randomBytes(3).toString("hex")}`
    const ns = `sdwtn-${name}`
    try {
      const up = await run(["up", "--name", name, "--nodes", "6"])
      expect(up.stderr).toBe("")
      expect(up.code).toBe(0)
      expect(up.stdout).toContain(`testnet '${name}' is up`)
      expect(up.stdout).toContain(`veilid-testnet exec --attach ${name}`)
      // Idempotent: a second up reports the running one.
      expect((await run(["up", "--name", name])).stdout).toContain(`testnet '${name}' is up`)

      const script = [
        `import { attachTestnet } from ${JSON.stringify(fileURLToPath(new URL("../src/index.ts", import.meta.url)))}`,
        "import dns from 'node:dns/promises'",
        "const t = attachTestnet()",
        "const config = t.nodeConfig('probe')",
        "const listen = config.network.protocol.udp.listen_address.replace(/:5150$/, '')",
        "const addresses = (await dns.lookup(listen, { all: true })).map((a) => a.address)",
        "console.log(JSON.stringify({ ns: process.env.SAVE_DWEB_TESTNET, nodes: t.nodes.length, bootstrap: t.bootstrap, addresses }))",
        "t.release()",
      ].join("\n")
      const attached = await run([
        "exec",
        "--attach",
        name,
        "--",
        process.execPath,
        "--input-type=module",
        "-e",
        script,
      ])
      expect(attached.stderr).toBe("")
      const seen = JSON.parse(attached.stdout)
      expect(seen).toMatchObject({ ns, nodes: 6 })
      expect(seen.addresses).toHaveLength(2)
      // The attached command ended; the testnet is still up.
      expect(namespaces()).toContain(ns)
      expect(readdirSync(join(runDirOf(ns), "zones"))).toHaveLength(1)
    } finally {
      const down = await run(["down", name])
      expect(down.code).toBe(0)
    }
    expect(gone(ns)).toBe(true)
    expect((await run(["exec", "--attach", name, "--", "true"])).code).toBe(1)
  }, 180_000)
})
