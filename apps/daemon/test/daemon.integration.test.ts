// The built daemon as a process on a private Veilid testnet (run inside `veilid-testnet
// exec`; the package's `test` script does): start-up, state and token files, one daemon
// per data dir, graceful shutdown that clears its route, restart keeping groups and files,
// and a 1 GiB upload and download through the RPC with the daemon's memory sampled.
import { createHash, randomBytes } from "node:crypto"
import { existsSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { makeClient, type RpcClient } from "@save-dweb/client"
import { eventuallyAsync } from "@save-dweb/test-support"
import { startTestnet, type Testnet } from "@save-dweb/veilid-testnet"
import { Effect, Exit, Scope, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  networkFlag,
  type RunningDaemon,
  rssOf,
  sampleRss,
  startDaemon,
  tempDir,
} from "./harness.ts"

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

const start = async (dataDir: string, node: string, extra: ReadonlyArray<string> = []) => {
  const d = await startDaemon(dataDir, [
    "--network",
    networkFlag(testnet, node, dataDir),
    "--listen",
    "127.0.0.1:0",
    ...extra,
  ])
  running.push(d)
  return d
}

const clientOf = (d: RunningDaemon): Promise<RpcClient> =>
  Effect.runPromise(Scope.provide(scope)(makeClient({ baseUrl: d.state.url, token: d.token })))

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

const stop = async (d: RunningDaemon, signal: NodeJS.Signals = "SIGTERM") => {
  d.child.kill(signal)
  return d.exited
}

describe("save-dweb-daemon on a private testnet", () => {
  it("starts, keeps its token 0600, refuses a second daemon on its data dir, stops on SIGTERM clearing its route, and keeps groups and files across a restart", async () => {
    const dirA = tempDir()
    const dirB = tempDir()
    const a = await start(dirA, "keep-a")
    expect(statSync(join(dirA, "rpc-token")).mode & 0o777).toBe(0o600)
    expect(statSync(dirA).mode & 0o777).toBe(0o700)
    expect(a.logs().map((l) => l.message)).toEqual(
      expect.arrayContaining(["starting", "network attached", "ready"]),
    )
    // The bin re-executed itself with V8's young generation capped (README, Memory): the
    // process that answers is the one spawned, and its command line has the cap.
    const cmdline = readFileSync(`/proc/${a.state.pid}/cmdline`, "utf8").split("\0")
    expect(cmdline).toContain("--max-semi-space-size=1")
    // Rust error values capture no backtraces unless asked for (README, Memory).
    if (process.env.RUST_LIB_BACKTRACE === undefined) {
      const environ = readFileSync(`/proc/${a.state.pid}/environ`, "utf8").split("\0")
      expect(environ).toContain("RUST_LIB_BACKTRACE=0")
    }

    // One daemon per data dir: the second says which one runs there.
    const second = await startDaemon(dirA, ["--listen", "127.0.0.1:0"], 20_000).then(
      () => "started",
      (error: Error) => error.message,
    )
    expect(second).toMatch(/exited 3/)
    expect(second).toMatch(new RegExp(`a daemon \\(pid ${a.state.pid}\\) already runs`))

    const ca = await clientOf(a)
    const g = await run(ca.groups.create({ name: "Keepers", memberName: "alice" }))
    const bytes = randomBytes(300_000)
    await run(ca.files.upload(g.key, "notes.bin", Stream.make(bytes)))
    const link = await run(ca.groups.invite(g.key, "read"))

    // Background replication (on by default): alice's file lands in carol's store with
    // no sync call.
    const c = await start(tempDir(), "keep-c", ["--sync-interval", "1"])
    const cc = await clientOf(c)
    await eventuallyAsync(() => run(cc.groups.join({ link })))
    await eventuallyAsync(async () => {
      const [f] = await run(cc.files.list(g.key, g.repo as string))
      if (f?.status !== "local") throw new Error(`not replicated yet: ${f?.status}`)
    })
    expect(await stop(c)).toBe(0)

    // bob replicates nothing by himself: what he has, he downloaded.
    const b = await start(dirB, "keep-b", ["--sync-interval", "0"])
    const cb = await clientOf(b)
    await eventuallyAsync(() => run(cb.groups.join({ link })))
    const fromA = await eventuallyAsync(() =>
      run(
        Effect.scoped(
          Effect.flatMap(cb.files.download(g.key, g.repo as string, "notes.bin"), (d) =>
            Stream.runCollect(d.bytes),
          ),
        ),
      ),
    )
    expect(Buffer.concat(fromA)).toEqual(bytes)

    // SIGTERM: clean exit, logs the steps, state file gone.
    expect(await stop(a)).toBe(0)
    const messages = a.logs().map((l) => l.message)
    expect(messages).toEqual(
      expect.arrayContaining(["stopping", "closing groups, removing routes", "stopped"]),
    )
    expect(existsSync(join(dirA, "daemon.json"))).toBe(false)

    // Its route is gone from its repo record: bob, who has no copy of a second file, is told
    // that no peer can be reached instead of waiting on a dead route.
    await run(cb.files.unpin(g.key, g.repo as string, "notes.bin"))
    const offline = await eventuallyAsync(async () => {
      const exit = await Effect.runPromiseExit(
        Effect.scoped(cb.files.download(g.key, g.repo as string, "notes.bin")),
      )
      if (Exit.isSuccess(exit)) throw new Error("still served")
      return exit
    })
    expect(JSON.stringify(offline)).toMatch(/PeerUnreachable|Timeout/)

    // Restart on the same data dir (a new Veilid node key): the group and the file are there.
    const again = await start(dirA, "keep-a2")
    const ca2 = await clientOf(again)
    expect((await run(ca2.groups.list)).map((s) => s.name)).toEqual(["Keepers"])
    const files = await run(ca2.files.list(g.key, "mine"))
    expect(files.map((f) => [f.name, f.size, f.status])).toEqual([["notes.bin", 300_000, "local"]])
    expect(await stop(again)).toBe(0)
    expect(await stop(b)).toBe(0)
  }, 400_000)

  it("a 1 GiB upload and download through the RPC keep the daemon's memory bounded", async () => {
    const d = await start(tempDir(), "big")
    const client = await clientOf(d)
    const g = await run(client.groups.create({ name: "Big files" }))
    const size = 1024 ** 3
    const chunk = 1024 * 1024
    const sent = createHash("sha256")
    const idle = rssOf(d.state.pid)

    const up = sampleRss(d.state.pid)
    const t0 = performance.now()
    const info = await run(
      client.files.upload(
        g.key,
        "big.bin",
        Stream.fromIterable(Array.from({ length: size / chunk }, (_, i) => i)).pipe(
          Stream.map(() => {
            const b = randomBytes(chunk)
            sent.update(b)
            return new Uint8Array(b.buffer, b.byteOffset, b.length)
          }),
        ),
      ),
    )
    const upSeconds = (performance.now() - t0) / 1000
    const upPeak = up.stop()
    expect(info.size).toBe(size)

    const down = sampleRss(d.state.pid)
    const received = createHash("sha256")
    let count = 0
    const t1 = performance.now()
    await run(
      Effect.scoped(
        Effect.flatMap(client.files.download(g.key, "mine", "big.bin"), (dl) =>
          Stream.runForEach(dl.bytes, (b) =>
            Effect.sync(() => {
              received.update(b)
              count += b.length
            }),
          ),
        ),
      ),
    )
    const downSeconds = (performance.now() - t1) / 1000
    const downPeak = down.stop()
    expect(count).toBe(size)
    expect(received.digest("hex")).toBe(sent.digest("hex"))

    const mib = (n: number) => (n / 1024 / 1024).toFixed(0)
    console.log(
      `1 GiB through the RPC: upload ${upSeconds.toFixed(1)} s (${(1024 / upSeconds).toFixed(0)} MiB/s), ` +
        `download ${downSeconds.toFixed(1)} s (${(1024 / downSeconds).toFixed(0)} MiB/s); daemon RSS ` +
        `idle ${mib(idle)} MiB, peak upload ${mib(upPeak)} MiB, peak download ${mib(downPeak)} MiB`,
    )
    // The bound (README): the daemon's RSS stays under 512 MiB while moving 1 GiB each way,
    // i.e. nothing holds the file in memory.
    expect(upPeak).toBeLessThan(512 * 1024 ** 2)
    expect(downPeak).toBeLessThan(512 * 1024 ** 2)
    expect(await stop(d)).toBe(0)
  }, 600_000)
})
