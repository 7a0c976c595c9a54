// Time to first byte of a download through the API, for a file another member holds, on
// a private Veilid testnet (built daemon: `turbo run build --filter=@save-dweb/daemon...`
// first):
//   pnpm --filter @save-dweb/daemon bench:ttfb [-- --mib 256 --transport private|direct]
// Daemon A uploads two files of the same size; daemon B (a write member, no background
// sync) downloads one through its API as it arrives, and gets the other the way a
// download of a remote file went before reads streamed: fetched whole (`pin`), then read.
// Both rows run in the same run, one after the other. Prints a table, asserts nothing.
import { createHash } from "node:crypto"
import { loadavg } from "node:os"
import { parseArgs } from "node:util"
import { eventuallyAsync } from "@save-dweb/test-support"
import { startTestnet } from "@save-dweb/veilid-testnet"
import { Effect, Stream } from "effect"
import { benchDaemons, uploadRandom } from "./support.ts"

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: {
    mib: { type: "string", default: "256" },
    transport: { type: "string", default: "private" },
  },
})
const size = Number(values.mib) * 1024 * 1024
const transport = values.transport === "direct" ? "direct" : "private"

const testnet = await startTestnet({ readyTimeoutMs: 180_000 })
const daemons = benchDaemons(testnet, "sdw-ttfb-bench")
const start = async (node: string) => (await daemons.start(node, ["--sync-interval", "0"])).client
const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`

try {
  const a = await start("ttfb-a")
  const g = await run(a.groups.create({ name: "First byte", memberName: "A" }))
  if (transport === "direct") await run(a.groups.setTransport(g.key, "direct"))
  const sums = new Map<string, string>()
  for (const name of ["streamed.bin", "whole.bin"])
    sums.set(name, await uploadRandom(a, g.key, name, size))
  const link = await run(a.groups.invite(g.key, "write"))
  const b = await start("ttfb-b")
  await eventuallyAsync(() => run(b.groups.join({ link })))
  await eventuallyAsync(async () => {
    const files = await run(b.files.list(g.key, g.repo as string))
    if (files.length !== 2) throw new Error(`B lists ${files.length} files`)
  })

  /** Downloads `name` from B's API: ms to the first body byte and to the last, and whether it is whole. */
  const download = async (name: string) => {
    const received = createHash("sha256")
    let count = 0
    let first: number | undefined
    const t0 = performance.now()
    await run(
      Effect.scoped(
        Effect.flatMap(b.files.download(g.key, g.repo as string, name), (dl) =>
          Stream.runForEach(dl.bytes, (bytes) =>
            Effect.sync(() => {
              first ??= performance.now() - t0
              received.update(bytes)
              count += bytes.length
            }),
          ),
        ),
      ),
    )
    const last = performance.now() - t0
    return {
      first: first ?? last,
      last,
      whole: count === size && received.digest("hex") === sums.get(name),
    }
  }

  const streamed = await eventuallyAsync(() => download("streamed.bin"))
  const t0 = performance.now()
  await eventuallyAsync(() => run(b.files.pin(g.key, g.repo as string, "whole.bin")))
  const pinned = performance.now() - t0
  const read = await download("whole.bin")

  console.log(
    `\n${values.mib} MiB held by daemon A, downloaded through daemon B's API (${transport} path, load ${loadavg()[0]?.toFixed(1)})\n`,
  )
  console.log(
    "| how                                     | first byte | last byte | MiB/s | whole |",
  )
  console.log(
    "| --------------------------------------- | ---------: | --------: | ----: | ----- |",
  )
  console.log(
    `| streamed as it arrives (now)            | ${seconds(streamed.first)} | ${seconds(streamed.last)} | ${(size / 1048576 / (streamed.last / 1000)).toFixed(1)} | ${streamed.whole} |`,
  )
  console.log(
    `| fetched whole, then read (before)       | ${seconds(pinned + read.first)} | ${seconds(pinned + read.last)} | ${(size / 1048576 / ((pinned + read.last) / 1000)).toFixed(1)} | ${read.whole} |`,
  )
} finally {
  await daemons.stopAll()
  await testnet.stop()
}
