// The backup server killed with -9 comes back: a real process on the testnet, killed while
// idle and while it copies a member's file, started again on the same data dir with the same
// Veilid node identity (the same config file: keys and address). Ready means its descriptor
// link is printed again (it is online on its route).
import { assert, layer } from "@effect/vitest"
import { pattern } from "@save-dweb/test-support"
import { Effect, Option, Stream } from "effect"
import {
  eventually,
  holdsBlobFile,
  Net,
  NetLive,
  ServerExited,
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

const transient = ["BackupUnreachable", "PeerUnreachable", "NoSource", "AllSourcesFailed"]

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

  it.effect("killed while it copies a member's file, it comes back and holds the file", () =>
    Effect.gen(function* () {
      const testnet = yield* Net
      const dir = yield* tempDir
      let server = yield* startServer(testnet, dir, { name: "Copying box", node: "crash-copy" })
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
      // Killed as soon as the copy has started (or right away if it is quick).
      yield* Effect.sleep("300 millis")
      yield* kill9(server.pid)
      const t0 = performance.now()
      server = yield* startServer(testnet, dir, { node: "crash-copy" })
      assert.isBelow(performance.now() - t0, READY_BOUND_MILLIS)
      yield* eventually(
        "the restarted server holds A's file",
        holdsBlobFile(server.dataDir, file.hash),
        (h) => h,
      )
      yield* a.stop
      yield* kill9(server.pid)
    }),
  )
})
