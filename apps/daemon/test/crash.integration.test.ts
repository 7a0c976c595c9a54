// A daemon killed with -9 comes back: the built daemon as a process on a private testnet,
// killed at chosen moments (idle, during an upload, during a sync, during `group create`)
// and started again on the same data dir with the same Veilid node identity (same keys,
// same address). What is checked is what a user would see: ready again quickly, one
// process per data dir, no half file listed, and on disk only the blobs the repos reference.
import { createHash } from "node:crypto"
import { readdirSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { makeClient, type RpcClient } from "@save-dweb/client"
import { eventuallyAsync } from "@save-dweb/test-support"
import { startTestnet, type Testnet } from "@save-dweb/veilid-testnet"
import { Effect, Exit, Scope, Stream } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import {
  awaitReady,
  blobFilesOf,
  kill9,
  networkFlag,
  type RunningDaemon,
  type SpawnedDaemon,
  spawnDaemon,
  tempDir,
} from "./harness.ts"

let testnet: Testnet
const scope = Effect.runSync(Scope.make())
const spawned: Array<SpawnedDaemon> = []

beforeAll(async () => {
  testnet = await startTestnet({ readyTimeoutMs: 120_000 })
}, 180_000)

/** The data dirs of the running test (an upload test leaves ~100 MB in one). */
const dirs: Array<string> = []

const dataDir = () => {
  const dir = tempDir()
  dirs.push(dir)
  return dir
}

/** Kills what a test left running (a failed one), then removes its data dirs. */
afterEach(async () => {
  for (const d of spawned.splice(0))
    if (d.child.exitCode === null && d.child.signalCode === null) await kill9(d)
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
}, 60_000)

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await testnet?.stop()
}, 60_000)

/** The restart bound the issue sets on the testnet. */
const READY_BOUND_MILLIS = 15_000

/** One node identity per data dir: the same config file (keys, address) on every start. */
const identityOf = (dataDir: string, node: string) => [
  "--network",
  networkFlag(testnet, node, dataDir),
  "--listen",
  "127.0.0.1:0",
]

const spawn = (dataDir: string, args: ReadonlyArray<string>) => {
  const d = spawnDaemon(dataDir, args)
  spawned.push(d)
  return d
}

/** Starts the daemon and returns it with the time from spawn to ready. */
const timedStart = async (dataDir: string, args: ReadonlyArray<string>, limit = 120_000) => {
  const t0 = performance.now()
  const d = await awaitReady(spawn(dataDir, args), limit)
  return { d, millis: performance.now() - t0 }
}

const clientOf = (d: RunningDaemon): Promise<RpcClient> =>
  Effect.runPromise(Scope.provide(scope)(makeClient({ baseUrl: d.state.url, token: d.token })))

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)

/** Bytes in Iroh's store files (partial downloads included). */
const bytesOnDisk = (dataDir: string) => {
  let total = 0
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else total += statSync(path).size
    }
  }
  walk(join(dataDir, "backend", "iroh"))
  return total
}

/** Files in the blob store's temp dir and its journal of temp tags (`tmp/`, `pending/`). */
const leftovers = (dataDir: string) =>
  ["tmp", "pending"].flatMap((sub) =>
    readdirSync(join(dataDir, "backend", "iroh", sub)).map((name) => `${sub}/${name}`),
  )

/** Bytes in the blob store's temp dir, where an upload is written before it is imported. */
const tmpBytes = (dataDir: string) => {
  const tmp = join(dataDir, "backend", "iroh", "tmp")
  let total = 0
  for (const name of readdirSync(tmp)) {
    try {
      total += statSync(join(tmp, name)).size
    } catch {
      // Removed meanwhile.
    }
  }
  return total
}

/** Deterministic content: the same `size` bytes for the same `seed`, made 1 MiB at a time. */
const content = (seed: string, size: number, onChunk: (sent: number) => void = () => {}) => {
  const chunk = 1024 * 1024
  let sent = 0
  return Stream.fromIterable(Array.from({ length: Math.ceil(size / chunk) }, (_, i) => i)).pipe(
    Stream.map((i) => {
      const length = Math.min(chunk, size - i * chunk)
      // xorshift128 seeded per chunk: fast, and the same bytes for the same seed.
      const [a = 1, b = 2, c = 3, d = 4] = new Uint32Array(
        createHash("sha256").update(`${seed}/${i}`).digest().buffer,
        0,
        4,
      )
      let [x, y, z, w] = [a | 1, b, c, d]
      const words = new Uint32Array(Math.ceil(length / 4))
      for (let k = 0; k < words.length; k++) {
        const t = x ^ (x << 11)
        x = y
        y = z
        z = w
        w = (w ^ (w >>> 19) ^ (t ^ (t >>> 8))) >>> 0
        words[k] = w
      }
      const block = new Uint8Array(words.buffer, 0, length)
      sent += block.length
      onChunk(sent)
      return block
    }),
  )
}

const sha256Of = (stream: Stream.Stream<Uint8Array, unknown>) =>
  run(
    Stream.runFold(
      stream,
      () => createHash("sha256"),
      (h, b) => h.update(b),
    ).pipe(
      Effect.map((h) => h.digest("hex")),
      Effect.orDie,
    ),
  )

const downloadSha = (client: RpcClient, group: string, repo: string, name: string) =>
  run(
    Effect.scoped(
      Effect.flatMap(client.files.download(group, repo, name), (d) =>
        Effect.promise(() => sha256Of(d.bytes)),
      ),
    ),
  )

describe("a daemon killed with -9 comes back", () => {
  it("killed while idle, it is ready again within 15 s with the same node identity, 10 times out of 10, and after a graceful stop", async () => {
    const dir = dataDir()
    const args = identityOf(dir, "crash-idle")
    let { d } = await timedStart(dir, args)
    const client = await clientOf(d)
    const g = await run(client.groups.create({ name: "Crash loop", memberName: "alice" }))
    await run(client.files.upload(g.key, "kept.bin", content("kept", 200_000)))

    const times: Array<number> = []
    for (let round = 0; round < 10; round++) {
      await kill9(d)
      const next = await timedStart(dir, args, 120_000)
      d = next.d
      times.push(next.millis)
      const c = await clientOf(d)
      const files = await run(c.files.list(g.key, "mine"))
      expect(files.map((f) => [f.name, f.size, f.status])).toEqual([["kept.bin", 200_000, "local"]])
    }
    d.child.kill("SIGTERM")
    expect(await d.exited).toBe(0)
    const graceful = await timedStart(dir, args, 120_000)
    times.push(graceful.millis)
    console.log(
      `restart to ready (ms): after kill -9 ${times
        .slice(0, 10)
        .map((t) => t.toFixed(0))
        .join(", ")}; after SIGTERM ${times[10]?.toFixed(0)}`,
    )
    for (const t of times) expect(t).toBeLessThan(READY_BOUND_MILLIS)
    await kill9(graceful.d)
  }, 900_000)

  it("one process per data dir from its first instant: a second start exits 3 at once naming the first, even while the first attaches", async () => {
    const dir = dataDir()
    const args = identityOf(dir, "crash-lock")
    const first = spawn(dir, args)
    await eventuallyAsync(async () => {
      if (!first.logs().some((l) => l.message === "starting")) throw new Error("not started")
    })
    // The first is still attaching: no daemon.json yet, but the data dir is taken.
    const t0 = performance.now()
    const second = spawn(dir, ["--listen", "127.0.0.1:0"])
    expect(await second.exited).toBe(3)
    expect(performance.now() - t0).toBeLessThan(10_000)
    expect(second.stderr()).toContain(`a daemon (pid ${first.child.pid}) already runs on ${dir}`)
    const ready = await awaitReady(first)
    // Killed, its lock goes with it: a new daemon starts at once, not refused.
    await kill9(ready)
    const again = await timedStart(dir, args)
    expect(again.d.child.pid).not.toBe(first.child.pid)
    await kill9(again.d)
  }, 400_000)

  it.each([
    ["with 16 MiB of it written to the store's temp file", "written"],
    ["once every byte was sent (while it stores and publishes)", "sent"],
  ] as const)(
    "killed during an upload, %s: after a restart no half file is listed, no unreferenced bytes are kept, and the same upload then succeeds",
    async (_, when) => {
      const dir = dataDir()
      const args = identityOf(dir, `crash-upload-${when}`)
      const { d } = await timedStart(dir, args)
      const client = await clientOf(d)
      const g = await run(client.groups.create({ name: "Uploads", memberName: "alice" }))
      await run(client.files.upload(g.key, "small.bin", content("small", 100_000)))
      const size = 96 * 1024 * 1024

      let killed = false
      const kill = () => {
        if (killed) return
        killed = true
        d.child.kill("SIGKILL")
      }
      let settled = false
      const upload = run(
        client.files.upload(
          g.key,
          "big.bin",
          content("big", size, (sent) => {
            if (when === "sent" && sent >= size) kill()
          }),
        ),
      ).then(
        () => "finished",
        () => "failed",
      )
      void upload.then(() => {
        settled = true
      })
      if (when === "written") {
        // Killed once the daemon has written part of the file to disk (the client's stream
        // runs ahead of what the daemon has received, so its count says nothing of that).
        const deadline = Date.now() + 120_000
        while (!settled && tmpBytes(dir) < 16 * 1024 * 1024) {
          if (Date.now() > deadline) throw new Error("the upload never reached the disk")
          await new Promise((r) => setTimeout(r, 10))
        }
        kill()
      }
      expect(await upload).toBe("failed")
      await d.exited

      // What a killed upload had written (its temp file, its journal of temp tags) is still
      // on disk here (surely so when killed mid-write), and is gone once the daemon is ready.
      if (when === "written") expect(tmpBytes(dir)).toBeGreaterThanOrEqual(16 * 1024 * 1024)
      const { d: back, millis } = await timedStart(dir, args)
      expect(millis).toBeLessThan(READY_BOUND_MILLIS)
      expect(leftovers(dir)).toEqual([])
      const c = await clientOf(back)
      const listed = await run(c.files.list(g.key, "mine"))
      // Either the whole file made it (published before the kill) or none of it did.
      const big = listed.find((f) => f.name === "big.bin")
      expect(big === undefined || big.size === size).toBe(true)
      if (when === "written") expect(big).toBeUndefined()
      // On disk once it is ready: exactly the blobs of the listed files, nothing of a half
      // upload (the start frees what the upload had stored, not Iroh's GC a minute later).
      expect(blobFilesOf(dir)).toEqual(
        new Set(listed.filter((f) => f.storedSize > 16 * 1024).map((f) => f.hash)),
      )

      const info = await run(c.files.upload(g.key, "big.bin", content("big", size)))
      expect(info.size).toBe(size)
      expect(await downloadSha(c, g.key, "mine", "big.bin")).toBe(
        await sha256Of(content("big", size)),
      )
      const after = await run(c.files.list(g.key, "mine"))
      await eventuallyAsync(async () => {
        expect(blobFilesOf(dir)).toEqual(
          new Set(after.filter((f) => f.storedSize > 16 * 1024).map((f) => f.hash)),
        )
      }, 90_000)
      await kill9(back)
    },
    600_000,
  )

  it("killed during group create: it comes back, every group it lists works, and creating again succeeds", async () => {
    const dir = dataDir()
    const args = identityOf(dir, "crash-create")
    const { d } = await timedStart(dir, args)
    const client = await clientOf(d)
    const creating = run(client.groups.create({ name: "Half made", memberName: "alice" })).then(
      () => "created",
      () => "failed",
    )
    await new Promise((r) => setTimeout(r, 150))
    await kill9(d)
    // Killed before it answered: the create was cut off, not finished.
    expect(await creating).toBe("failed")

    const { d: back, millis } = await timedStart(dir, args)
    expect(millis).toBeLessThan(READY_BOUND_MILLIS)
    const c = await clientOf(back)
    for (const group of await run(c.groups.list)) {
      // A group the daemon knows is a whole one: its repo lists (empty) files.
      expect(await run(c.files.list(group.key, "mine"))).toEqual([])
    }
    const g = await run(c.groups.create({ name: "Half made", memberName: "alice" }))
    await run(c.files.upload(g.key, "x.bin", content("x", 1000)))
    expect((await run(c.files.list(g.key, "mine"))).map((f) => f.name)).toEqual(["x.bin"])
    await kill9(back)
  }, 400_000)

  it("killed during a sync: the next sync completes and the store holds exactly what the repos reference", async () => {
    const dirA = dataDir()
    const dirB = dataDir()
    const { d: a } = await timedStart(dirA, identityOf(dirA, "crash-sync-a"))
    const ca = await clientOf(a)
    const g = await run(ca.groups.create({ name: "Synced", memberName: "alice" }))
    const size = 64 * 1024 * 1024
    await run(ca.files.upload(g.key, "one.bin", content("one", size)))
    await run(ca.files.upload(g.key, "two.bin", content("two", 3 * 1024 * 1024)))
    const link = await run(ca.groups.invite(g.key, "read"))

    const argsB = [...identityOf(dirB, "crash-sync-b"), "--sync-interval", "0"]
    const { d: b } = await timedStart(dirB, argsB)
    const cb = await clientOf(b)
    await eventuallyAsync(() => run(cb.groups.join({ link })))
    // Kill bob once part of alice's files is in his store.
    const syncing = run(cb.groups.sync(g.key)).then(
      () => "synced",
      () => "failed",
    )
    const fetchDeadline = Date.now() + 120_000
    while (bytesOnDisk(dirB) < 8 * 1024 * 1024) {
      if (Date.now() > fetchDeadline) throw new Error("bob never started fetching")
      await new Promise((r) => setTimeout(r, 20))
    }
    await kill9(b)
    await syncing

    const { d: back, millis } = await timedStart(dirB, argsB)
    expect(millis).toBeLessThan(READY_BOUND_MILLIS)
    const cb2 = await clientOf(back)
    await eventuallyAsync(() => run(cb2.groups.sync(g.key)), 180_000)
    const theirs = await run(cb2.files.list(g.key, g.repo as string))
    expect(theirs.map((f) => [f.name, f.status])).toEqual([
      ["one.bin", "local"],
      ["two.bin", "local"],
    ])
    expect(blobFilesOf(dirB)).toEqual(new Set(theirs.map((f) => f.hash)))
    expect(await downloadSha(cb2, g.key, g.repo as string, "one.bin")).toBe(
      await sha256Of(content("one", size)),
    )
    await kill9(back)
    await kill9(a)
  }, 600_000)
})
