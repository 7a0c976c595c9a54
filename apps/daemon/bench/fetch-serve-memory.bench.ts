// Peak RSS of a daemon that fetches a remote 1 GiB file and then serves it, on a private
// Veilid testnet (built daemon: `turbo run build --filter=@save-dweb/daemon...` first):
//   pnpm --filter @save-dweb/daemon bench:memory [-- --mib 1024]
// Daemon A uploads the file (`--transport private` by default, or `direct`); daemon B joins
// with a read link and replicates it by itself
// (autoSync, `--sync-interval 1`) from A; B then serves it through the RPC to
// this process. B's RSS is sampled every 100 ms in each phase. Extra environment for both
// daemons (e.g. MALLOC_ARENA_MAX=2) comes from `--env K=V`. Prints a table, asserts nothing.
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { loadavg } from "node:os"
import { parseArgs } from "node:util"
import { eventuallyAsync } from "@save-dweb/test-support"
import { startTestnet } from "@save-dweb/veilid-testnet"
import { Effect, Stream } from "effect"
import { rssOf, sampleRss } from "../test/harness.ts"
import { benchDaemons, uploadRandom } from "./support.ts"

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: {
    mib: { type: "string", default: "1024" },
    env: { type: "string", multiple: true, default: [] },
    // The group's transport: "private" (the default: over the tunnels) or "direct" (Iroh).
    transport: { type: "string", default: "private" },
  },
})
const size = Number(values.mib) * 1024 * 1024
const env = Object.fromEntries(
  values.env.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
)

const testnet = await startTestnet({ readyTimeoutMs: 180_000 })
const daemons = benchDaemons(testnet, "sdw-memory-bench", env)
const start = (node: string, extra: ReadonlyArray<string>) => daemons.start(node, extra)
/**
 * Where `pid`'s resident memory is, from /proc/pid/smaps, in MiB: mapped files (the
 * native addons, node), the main malloc heap (brk), 64 MiB mappings (glibc's per-thread
 * malloc arenas), mappings of 1 GiB and more (WebAssembly memories' reservations), and
 * the other anonymous mappings (V8's heap pages, large malloc chunks, thread stacks).
 */
const breakdown = (pid: number) => {
  const sums = { files: 0, brk: 0, arenas: 0, wasm: 0, otherAnon: 0 }
  let kind: keyof typeof sums = "otherAnon"
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(line)
    if (header !== null) {
      const bytes = Number.parseInt(header[2] ?? "0", 16) - Number.parseInt(header[1] ?? "0", 16)
      const name = header[3] ?? ""
      kind = name.startsWith("/")
        ? "files"
        : name === "[heap]"
          ? "brk"
          : bytes === 64 * 1024 * 1024
            ? "arenas"
            : bytes >= 1024 ** 3
              ? "wasm"
              : "otherAnon"
      continue
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line)
    if (rss !== null) sums[kind] += Number(rss[1]) * 1024
  }
  return Object.entries(sums)
    .map(([k, v]) => `${k} ${(v / 1048576).toFixed(0)}`)
    .join(", ")
}

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
const mib = (n: number) => (n / 1024 / 1024).toFixed(0)

try {
  const a = await start("mem-a", ["--sync-interval", "0"])
  const g = await run(a.client.groups.create({ name: "Memory", memberName: "A" }))
  if (values.transport === "direct") await run(a.client.groups.setTransport(g.key, "direct"))
  const sent = await uploadRandom(a.client, g.key, "big.bin", size)
  const link = await run(a.client.groups.invite(g.key, "read"))

  const b = await start("mem-b", ["--sync-interval", "1"])
  const idle = rssOf(b.d.state.pid)
  const idleParts = breakdown(b.d.state.pid)
  const fetching = sampleRss(b.d.state.pid)
  const t0 = performance.now()
  await eventuallyAsync(() => run(b.client.groups.join({ link })))
  await eventuallyAsync(async () => {
    const [f] = await run(b.client.files.list(g.key, g.repo as string))
    if (f?.status !== "local") throw new Error(`not replicated yet: ${f?.status}`)
  }, 1_200_000)
  const fetchSeconds = (performance.now() - t0) / 1000
  const fetchPeak = fetching.stop()
  const afterFetch = rssOf(b.d.state.pid)
  const fetchParts = breakdown(b.d.state.pid)

  const serving = sampleRss(b.d.state.pid)
  const received = createHash("sha256")
  let count = 0
  const t1 = performance.now()
  await run(
    Effect.scoped(
      Effect.flatMap(b.client.files.download(g.key, g.repo as string, "big.bin"), (dl) =>
        Stream.runForEach(dl.bytes, (bytes) =>
          Effect.sync(() => {
            received.update(bytes)
            count += bytes.length
          }),
        ),
      ),
    ),
  )
  const serveSeconds = (performance.now() - t1) / 1000
  const servePeak = serving.stop()
  const serveParts = breakdown(b.d.state.pid)
  const same = count === size && received.digest("hex") === sent

  console.log(
    `\ndaemon B fetching ${mib(size)} MiB from daemon A over the ${values.transport} path, then serving it (load ${loadavg()[0]?.toFixed(1)}${Object.keys(env).length > 0 ? `, env ${values.env.join(" ")}` : ""})\n`,
  )
  console.log("| phase                 | time    | MiB/s | B's peak RSS | B's RSS after |")
  console.log("| --------------------- | ------- | ----- | ------------ | ------------- |")
  console.log(`| idle (joined nothing) |         |       |              | ${mib(idle)} MiB |`)
  console.log(
    `| fetch (autoSync)      | ${fetchSeconds.toFixed(1)} s | ${(size / 1048576 / fetchSeconds).toFixed(0)} | ${mib(fetchPeak)} MiB | ${mib(afterFetch)} MiB |`,
  )
  console.log(
    `| serve (RPC download)  | ${serveSeconds.toFixed(1)} s | ${(size / 1048576 / serveSeconds).toFixed(0)} | ${mib(servePeak)} MiB | ${mib(rssOf(b.d.state.pid))} MiB |`,
  )
  console.log(`\nbytes served identical to those uploaded: ${same}`)
  console.log(`B's RSS by mapping (MiB): idle: ${idleParts}`)
  console.log(`  after fetch: ${fetchParts}`)
  console.log(`  after serve: ${serveParts}`)
} finally {
  await daemons.stopAll()
  await testnet.stop()
}
