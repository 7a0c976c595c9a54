// Ranged reads of a large local file through the API, with a real backend on a private
// Veilid testnet (loopback only):
//   pnpm --filter @save-dweb/rpc-server bench:range [-- --mib 1024 --runs 5]
// Writes one file of `--mib` MiB, then times, each `--runs` times and side by side:
// the last 1 MiB and 1 MiB from the middle through HTTP with a `Range` header (curl in a
// second process, which reads from the record holding the first byte), and the same
// ranges read the way the server did before (decrypt from the start, skip to the range,
// in process). Prints one table of medians; asserts nothing.
import { execFile } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs, promisify } from "node:util"
import { makeRealBackend } from "@save-dweb/backend"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Effect, Stream } from "effect"
import { serve } from "../src/index.ts"
import { sliceStream } from "../src/range.ts"

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: {
    mib: { type: "string", default: "1024" },
    runs: { type: "string", default: "5" },
  },
})
const MiB = 1024 * 1024
const size = Number(values.mib) * MiB
const runs = Number(values.runs)
const block = new Uint8Array(MiB).map((_, i) => (i * 31 + 7) & 0xff)

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

const program = Effect.gen(function* () {
  const testnet = yield* withTestnet()
  const dir = yield* Effect.acquireRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), "range-bench-"))),
    (d) => Effect.promise(() => rm(d, { recursive: true, force: true })),
  )
  const backend = yield* makeRealBackend({
    storageDir: join(dir, "node"),
    network: { veilidConfig: testnet.nodeConfig("bench") },
    veilid: { readyTimeout: "90 seconds" },
    iroh: { ipv4Addr: "127.0.0.1:0", ipv6Addr: "[::1]:0" },
  })
  const served = yield* serve({ backend, dataDir: dir, listen: { port: 0 } })
  const group = yield* backend.createGroup("Bench", { memberName: "Bench" })
  console.log(`writing ${values.mib} MiB ...`)
  yield* backend.writeFile(
    group.key,
    "large.bin",
    Stream.fromIterable(Array.from({ length: size / MiB }, () => block)),
  )
  const url = `${served.url}/v1/groups/${encodeURIComponent(group.key)}/repos/mine/files/large.bin`
  const ranges = [
    { name: "last 1 MiB", start: size - MiB, end: size - 1 },
    { name: "1 MiB from the middle", start: size / 2, end: size / 2 + MiB - 1 },
  ]
  const http = (start: number, end: number) =>
    Effect.promise(async () => {
      const began = performance.now()
      const { stdout } = await promisify(execFile)(
        "curl",
        [
          "-sSf",
          "-H",
          `authorization: Bearer ${served.token}`,
          "-H",
          `range: bytes=${start}-${end}`,
          "-o",
          "/dev/null",
          "-w",
          "%{size_download}",
          url,
        ],
        { encoding: "utf8" },
      )
      if (Number(stdout) !== end - start + 1) throw new Error(`got ${stdout} bytes`)
      return performance.now() - began
    })
  const fromStart = (start: number, end: number) =>
    Effect.gen(function* () {
      const began = performance.now()
      const read = yield* backend.readFile(group.key, "mine", "large.bin")
      yield* Stream.runDrain(sliceStream(read.bytes, start, end))
      return performance.now() - began
    })
  const rows: Array<string> = []
  for (const range of ranges) {
    const seek: Array<number> = []
    const before: Array<number> = []
    for (let i = 0; i < runs; i++) {
      seek.push(yield* http(range.start, range.end))
      before.push(yield* fromStart(range.start, range.end))
    }
    rows.push(
      `| ${range.name} | ${median(seek).toFixed(1)} | ${median(before).toFixed(0)} | ${(median(before) / median(seek)).toFixed(0)}× |`,
    )
  }
  console.log(
    `\nRanged reads of a local ${values.mib} MiB file, ms, median of ${runs}; ${availableParallelism()} CPUs, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}\n`,
  )
  console.log(
    "| range | HTTP Range (curl, seeks to the record) | decrypt from the start and skip (before) | speed-up |\n|---|---|---|---|",
  )
  for (const row of rows) console.log(row)
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  },
)
