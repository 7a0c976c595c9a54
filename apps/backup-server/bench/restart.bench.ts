// Restart-to-online times of the backup server on a private Veilid testnet (loopback only):
//   pnpm --filter @save-dweb/backup-server bench:restart [-- --rounds 10]
// One data dir and one Veilid node identity (the same config file: keys and address on
// every start, as after a real restart), holding one member's group with a 1 MiB file.
// Each round stops the server, either gracefully (SIGTERM: route cleared, stores closed)
// or with SIGKILL (nothing cleaned up), starts it again and times spawn → online (its
// descriptor link printed). The two kinds of stop take turns, so a load change falls on
// both. Prints a table, asserts nothing.
import { loadavg } from "node:os"
import { parseArgs } from "node:util"
import { pattern } from "@save-dweb/test-support"
import { restartTable } from "@save-dweb/test-support/restart-table"
import { Effect, Option, Stream } from "effect"
import {
  eventually,
  holdsBlobFile,
  Net,
  NetLive,
  type ServerProcess,
  startMember,
  startServer,
  tempDir,
} from "../test/testnet.ts"

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: { rounds: { type: "string", default: "10" } },
})
const rounds = Math.max(1, Number(values.rounds))

/** Stops the server with `signal` and waits until the process is gone. */
const stopWith = (server: ServerProcess, signal: NodeJS.Signals) =>
  signal === "SIGTERM"
    ? Effect.asVoid(server.stop)
    : Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            process.kill(server.pid, "SIGKILL")
            const poll = setInterval(() => {
              try {
                process.kill(server.pid, 0)
              } catch {
                clearInterval(poll)
                resolve()
              }
            }, 20)
          }),
      )

const program = Effect.gen(function* () {
  const testnet = yield* Net
  const dir = yield* tempDir
  let server = yield* startServer(testnet, dir, { name: "Restart box", node: "restart-bench" })
  const member = yield* startMember(testnet, "restart-member", yield* tempDir)
  const group = yield* member.backend.createGroup("Restarts", { memberName: "M" })
  const file = yield* Option.getOrThrow(group.repo).write(
    "kept.bin",
    Stream.make(pattern(1024 * 1024, 3)),
  )
  yield* eventually("registered", member.backend.addBackup(group.key, server.link), () => true, [
    "BackupUnreachable",
    "PeerUnreachable",
  ])
  yield* eventually("held", holdsBlobFile(server.dataDir, file.hash), (h) => h)
  yield* member.stop

  const times: Record<"SIGTERM" | "SIGKILL", Array<number>> = { SIGTERM: [], SIGKILL: [] }
  for (let round = 0; round < rounds; round++) {
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      yield* stopWith(server, signal)
      const t0 = performance.now()
      server = yield* startServer(testnet, dir, { node: "restart-bench" })
      times[signal].push(performance.now() - t0)
    }
  }
  yield* stopWith(server, "SIGTERM")
  return times
}).pipe(Effect.scoped, Effect.provide(NetLive))

Effect.runPromise(program).then(
  (times) => {
    console.log(
      `\nbackup server restart to online, same data dir and node identity, ${rounds} rounds each (load ${loadavg()[0]?.toFixed(1)})\n`,
    )
    for (const line of restartTable(times)) console.log(line)
    process.exit(0)
  },
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  },
)
