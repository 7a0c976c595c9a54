// Restart-to-ready times of the built daemon on a private Veilid testnet (loopback only):
//   pnpm --filter @save-dweb/daemon bench [-- --rounds 10]
// One data dir and one Veilid node identity (the same keys and address on every start,
// as after a real restart), holding a group with a file. Each round stops the daemon,
// either gracefully (SIGTERM: routes cleared, stores closed) or with SIGKILL (nothing
// cleaned up), starts it again and times spawn → ready (state file written, API up).
// The two kinds of stop take turns, so a load change falls on both. Prints a table,
// asserts nothing.
import { loadavg } from "node:os"
import { parseArgs } from "node:util"
import { makeClient } from "@save-dweb/client"
import { restartTable } from "@save-dweb/test-support/restart-table"
import { startTestnet } from "@save-dweb/veilid-testnet"
import { Effect, Exit, Scope, Stream } from "effect"
import {
  awaitReady,
  networkFlag,
  type RunningDaemon,
  spawnDaemon,
  tempDir,
} from "../test/harness.ts"

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: { rounds: { type: "string", default: "10" } },
})
const rounds = Math.max(1, Number(values.rounds))

const testnet = await startTestnet({ readyTimeoutMs: 120_000 })
const scope = Effect.runSync(Scope.make())
const dir = tempDir("sdw-restart-bench-")
const args = ["--network", networkFlag(testnet, "restart-bench", dir), "--listen", "127.0.0.1:0"]

const start = async () => {
  const t0 = performance.now()
  const d = await awaitReady(spawnDaemon(dir, args), 300_000)
  return { d, millis: performance.now() - t0 }
}

let { d } = await start()
const client = await Effect.runPromise(
  Scope.provide(scope)(makeClient({ baseUrl: d.state.url, token: d.token })),
)
const g = await Effect.runPromise(client.groups.create({ name: "Restarts", memberName: "bench" }))
await Effect.runPromise(
  client.files.upload(g.key, "kept.bin", Stream.make(new Uint8Array(300_000).fill(9))),
)

const stopWith = async (daemon: RunningDaemon, signal: NodeJS.Signals) => {
  daemon.child.kill(signal)
  await daemon.exited
}

const times: Record<"SIGTERM" | "SIGKILL", Array<number>> = { SIGTERM: [], SIGKILL: [] }
for (let round = 0; round < rounds; round++) {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    await stopWith(d, signal)
    const next = await start()
    d = next.d
    times[signal].push(next.millis)
  }
}
await stopWith(d, "SIGTERM")
await Effect.runPromise(Scope.close(scope, Exit.void))
await testnet.stop()

console.log(
  `\nrestart to ready, same data dir and node identity, ${rounds} rounds each (load ${loadavg()[0]?.toFixed(1)})\n`,
)
for (const line of restartTable(times)) console.log(line)
