// The backup server killed with -9 comes back: a real process on the testnet, killed while
// idle and while it copies a member's file, started again on the same data dir with the same
// Veilid node identity (the same config file: keys and address). Ready means its descriptor
// link is printed again (it is online on its route).
import { readdirSync, statSync } from "node:fs"
import { loadavg } from "node:os"
import { basename, join } from "node:path"
import { assert, layer } from "@effect/vitest"
import { pattern } from "@save-dweb/test-support"
import { Effect, Fiber, Option, Stream } from "effect"
import {
  eventually,
  holdsBlobFile,
  Net,
  NetLive,
  ServerExited,
  spawnServer,
  startMember,
  startServer,
  tempDir,
  timeout,
} from "./testnet.ts"

const READY_BOUND_MILLIS = 15_000

const kill9 = (pid: number) =>
  Effect.promise(
    () =>
      new Promise<void>((resolve) => {
        process.kill(pid, "SIGKILL")
        const poll = setInterval(() => {
          try {
            process.kill(pid, 0)
          } catch {
            clearInterval(poll)
            resolve()
          }
        }, 20)
      }),
  )

/** Bytes in the files under `dir` (partial downloads and temp files included). */
const bytesUnder = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true, recursive: true }).reduce((total, entry) => {
    if (!entry.isFile()) return total
    try {
      return total + statSync(join(entry.parentPath, entry.name)).size
    } catch {
      return total // removed meanwhile
    }
  }, 0)

/** Hashes of the blobs with a data file of their own (`<hash>.data`) under `dir`. */
const blobFilesUnder = (dir: string): Array<string> =>
  readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".data"))
    .map((name) => basename(name).slice(0, -".data".length))

const transient = ["BackupUnreachable", "PeerUnreachable", "NoSource", "AllSourcesFailed"]

/** Waits (10 ms polls, 2 minutes at most) until `holds` is true. */
const until = (what: string, holds: () => boolean) =>
  Effect.gen(function* () {
    const deadline = Date.now() + 120_000
    while (!holds()) {
      if (Date.now() > deadline) assert.fail(`${what}: not within 2 minutes`)
      yield* Effect.sleep("10 millis")
    }
  })

layer(NetLive, { excludeTestServices: true, timeout })("the backup server killed with -9", (it) => {
  it.effect(
    "killed while idle it is online again within 15 s with the same identity, 10 times out of 10; a second server on its data dir exits 3",
    () =>
      Effect.gen(function* () {
        const testnet = yield* Net
        const dir = yield* tempDir
        let server = yield* startServer(testnet, dir, { name: "Crash box", node: "crash-box" })
        const link = server.link
        const times: Array<number> = []
        for (let round = 0; round < 10; round++) {
          yield* kill9(server.pid)
          const t0 = performance.now()
          server = yield* startServer(testnet, dir, { node: "crash-box" })
          times.push(performance.now() - t0)
          // The same descriptor: members' links keep working.
          assert.strictEqual(server.link, link)
        }
        // A second server on the same data dir is refused at once, naming the first.
        const refused = yield* startServer(testnet, dir, { node: "crash-box" }).pipe(
          Effect.as(undefined),
          Effect.catchDefect((defect) => Effect.succeed(defect)),
        )
        assert.instanceOf(refused, ServerExited)
        if (refused instanceof ServerExited) {
          assert.strictEqual(refused.code, 3)
          assert.include(refused.log, `pid ${server.pid}`)
        }
        const graceful0 = performance.now()
        assert.strictEqual(yield* server.stop, 0)
        server = yield* startServer(testnet, dir, { node: "crash-box" })
        times.push(performance.now() - graceful0)
        console.log(
          `backup server restart to online (ms): after kill -9 ${times
            .slice(0, 10)
            .map((t) => t.toFixed(0))
            .join(", ")}; after SIGTERM ${times[10]?.toFixed(0)}`,
        )
        for (const t of times) assert.isBelow(t, READY_BOUND_MILLIS)
        yield* kill9(server.pid)
      }),
  )

  it.effect(
    "killed while it copies a member's file (8 MiB of it on disk, the pass not ended), it is online within 15 s, then holds the file and no other blob file",
    () =>
      Effect.gen(function* () {
        const testnet = yield* Net
        const dir = yield* tempDir
        let server = yield* startServer(testnet, dir, { name: "Copying box", node: "crash-copy" })
        const before = bytesUnder(join(server.dataDir, "iroh"))
        const a = yield* startMember(testnet, "crash-member", yield* tempDir)
        const created = yield* a.backend.createGroup("Copied", { memberName: "A" })
        const file = yield* Option.getOrThrow(created.repo).write(
          "big.bin",
          Stream.make(pattern(48 * 1024 * 1024, 5)),
        )
        yield* eventually(
          "A registers the group with the server",
          a.backend.addBackup(created.key, server.link),
          () => true,
          transient,
        )
        // Killed once part of the file is on the server's disk, before the pass that copies it
        // has ended (it logs `backup-server: pass` with `updated` once it has).
        const copied = () =>
          server.logs.some((l) => l.message === "backup-server: pass" && Number(l.updated) > 0)
        const deadline = Date.now() + 120_000
        while (bytesUnder(join(server.dataDir, "iroh")) < before + 8 * 1024 * 1024) {
          if (Date.now() > deadline) assert.fail("the copy never reached the server's disk")
          yield* Effect.sleep("10 millis")
        }
        assert.isFalse(copied(), "killed after the copy had ended")
        yield* kill9(server.pid)
        const t0 = performance.now()
        server = yield* startServer(testnet, dir, { node: "crash-copy" })
        assert.isBelow(performance.now() - t0, READY_BOUND_MILLIS)
        yield* eventually(
          "the restarted server holds A's file",
          holdsBlobFile(server.dataDir, file.hash),
          (h) => h,
        )
        // ...and nothing else of its own (small blobs live inline in Iroh's database).
        yield* eventually(
          "the restarted server's blob files are A's file only",
          Effect.sync(() => blobFilesUnder(join(server.dataDir, "iroh"))),
          (files) => files.length === 1 && files[0] === file.hash,
        )
        yield* a.stop
        yield* kill9(server.pid)
      }),
  )

  it.effect(
    "killed while it registers a member's group (the join started), it is online within 15 s; the member's addBackup, tried again, succeeds and the server then holds the member's file",
    () =>
      Effect.gen(function* () {
        const testnet = yield* Net
        const dir = yield* tempDir
        let server = yield* startServer(testnet, dir, { name: "Joining box", node: "crash-join" })
        const a = yield* startMember(testnet, "crash-joiner", yield* tempDir)
        const created = yield* a.backend.createGroup("Joined", { memberName: "A" })
        const file = yield* Option.getOrThrow(created.repo).write(
          "joined.bin",
          Stream.make(pattern(1024 * 1024, 7)),
        )
        // A asks, and asks again on a transient failure (the server gone, then starting), as a
        // user would.
        const registering = yield* Effect.forkChild(
          eventually(
            "A registers the group with the server",
            a.backend.addBackup(created.key, server.link),
            () => true,
            transient,
          ),
        )
        const logged = (message: string) => server.logs.some((l) => l.message === message)
        yield* until("the server starts joining A's group", () =>
          logged("backup-server: joining group"),
        )
        assert.isFalse(logged("backup-server: group added"), "killed after the join had ended")
        yield* kill9(server.pid)
        const t0 = performance.now()
        server = yield* startServer(testnet, dir, { node: "crash-join" })
        // On failure, where the start spent its time (the machine's load counts too).
        assert.isBelow(
          performance.now() - t0,
          READY_BOUND_MILLIS,
          `load ${loadavg()[0]?.toFixed(1)}; ${server.logs.map((l) => `${String(l.time).slice(11, 23)} ${String(l.message)}`).join(" | ")}`,
        )
        const added = yield* Fiber.join(registering)
        assert.strictEqual(added.group, created.key)
        yield* eventually(
          "the restarted server holds A's file",
          holdsBlobFile(server.dataDir, file.hash),
          (h) => h,
        )
        yield* a.stop
        yield* kill9(server.pid)
      }),
  )

  it.effect(
    "a second server on the data dir of one still attaching (not yet online) exits 3 within 10 s, naming the first",
    () =>
      Effect.gen(function* () {
        const testnet = yield* Net
        const dir = yield* tempDir
        const first = yield* spawnServer(testnet, dir, { name: "Locked box", node: "crash-lock" })
        // `starting` is logged once its lock is taken, before Veilid starts.
        yield* until("the first server starts", () =>
          first.logs.some((l) => l.message === "starting"),
        )
        const t0 = performance.now()
        const second = yield* spawnServer(testnet, dir, { node: "crash-lock" })
        const code = yield* second.exited
        const elapsed = performance.now() - t0
        const online = () => first.logs.some((l) => l.message === "online")
        assert.isFalse(online(), "the first server was online before the second was refused")
        assert.strictEqual(code, 3)
        assert.isBelow(elapsed, 10_000)
        assert.include(second.output.join("\n"), `pid ${first.pid}`)
        // The first was not disturbed: it comes online, then its lock dies with it.
        const server = yield* first.online
        yield* kill9(server.pid)
        const again = yield* startServer(testnet, dir, { node: "crash-lock" })
        assert.strictEqual(again.link, server.link)
        yield* kill9(again.pid)
      }),
  )
})
