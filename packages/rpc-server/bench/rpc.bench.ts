// Throughput through the RPC against the layers below it, and load on the list routes,
// with a real backend on a private Veilid testnet (loopback only):
//   pnpm --filter @save-dweb/rpc-server bench [-- --mib 128 --runs 3 --connections 10 --seconds 10 --default-gc]
// (1) the same bytes into and out of a bare Iroh store (blob-store, no encryption);
// (2) through the backend in-process (encrypt + store + publish; decrypt on read): the
//     layer beneath the RPC, which issue 8's target (RPC ≥ 0.8 of it) is measured against;
// (3) through the RPC: the typed client over HTTP on 127.0.0.1, streamed both ways;
// (4) through the RPC from a second process: curl.
// Each transfer runs `--runs` times, the paths taking turns (a load change on the
// machine falls on all of them), and the median is reported. Then autocannon, in a
// second process, on the list routes. Prints tables, asserts nothing.
// The process runs with the daemon's V8 settings (`--external-memory-accounted-in-global-limit`,
// `--heap-growing-percent=50`, `--max-semi-space-size=1`; see the README's Benchmark
// section); `--default-gc` measures without the first two.
import { execFile } from "node:child_process"
import { mkdtemp, open, rm } from "node:fs/promises"
import { availableParallelism, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs, promisify } from "node:util"
import { makeRealBackend } from "@save-dweb/backend"
import { tuneV8ForTransfers } from "@save-dweb/backend/process-settings"
import { type BlobHash, BlobStore, layer as irohLayer } from "@save-dweb/blob-store"
import { makeClient } from "@save-dweb/client"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Context, Effect, Layer, Stream } from "effect"
import { serve } from "../src/index.ts"

const { values } = parseArgs({
  // `pnpm run bench -- --mib 64` passes the `--` along.
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: {
    mib: { type: "string", default: "128" },
    runs: { type: "string", default: "3" },
    connections: { type: "string", default: "10" },
    seconds: { type: "string", default: "10" },
    files: { type: "string", default: "100" },
    "default-gc": { type: "boolean", default: false },
  },
})
// As the daemon runs (its README, Memory): the settings V8 takes at run time here,
// `--max-semi-space-size=1` from the package script.
if (!values["default-gc"]) tuneV8ForTransfers()
const size = Number(values.mib) * 1024 * 1024
const runs = Math.max(1, Number(values.runs))
/** Issues 8 and 15: RPC upload and download throughput at least this share of the layer beneath. */
const TARGET = 0.9
const block = new Uint8Array(1024 * 1024).map((_, i) => (i * 31 + 7) & 0xff)
/** `size` bytes in 1 MiB chunks (the same block: the store sees distinct bytes once encrypted). */
const input = () =>
  Stream.fromIterable(
    Array.from({ length: Math.ceil(size / block.length) }, (_, i) =>
      block.subarray(0, Math.min(block.length, size - i * block.length)),
    ),
  )
const drain = <E, R>(stream: Stream.Stream<Uint8Array, E, R>) =>
  Stream.runFold(
    stream,
    () => 0,
    (n, chunk) => n + chunk.length,
  )
/** Fails the run when a transfer did not carry every byte. */
const whole = <E, R>(effect: Effect.Effect<number, E, R>) =>
  Effect.flatMap(effect, (n) =>
    n === size ? Effect.void : Effect.die(new Error(`read ${n} bytes, expected ${size}`)),
  )

interface Sample {
  readonly seconds: number
  readonly peakMiB: number
}

/** Time and peak RSS (sampled every 50 ms) of an effect. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<Sample, E, R> =>
  Effect.gen(function* () {
    let peak = process.memoryUsage.rss()
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss())
    }, 50)
    const start = performance.now()
    yield* Effect.ensuring(
      effect,
      Effect.sync(() => clearInterval(sampler)),
    )
    return { seconds: (performance.now() - start) / 1000, peakMiB: peak / 1024 / 1024 }
  })
const mibps = (sample: Sample) => size / 1024 / 1024 / sample.seconds
const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

const tempDir = Effect.acquireRelease(
  Effect.promise(() => mkdtemp(join(tmpdir(), "rpc-bench-"))),
  (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
)

const autocannon = async (url: string, token: string) => {
  const bin = join(import.meta.dirname, "..", "node_modules", ".bin", "autocannon")
  const { stdout } = await promisify(execFile)(
    bin,
    [
      "--json",
      "-c",
      values.connections,
      "-d",
      values.seconds,
      "-H",
      `authorization=Bearer ${token}`,
      url,
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  )
  const report = JSON.parse(stdout) as {
    requests: { average: number }
    latency: { p50: number; p99: number }
    non2xx: number
    errors: number
  }
  return report
}

const program = Effect.gen(function* () {
  const testnet = yield* withTestnet()
  const dir = yield* tempDir
  const backend = yield* makeRealBackend({
    storageDir: join(dir, "node"),
    network: { veilidConfig: testnet.nodeConfig("bench") },
    veilid: { readyTimeout: "90 seconds" },
    iroh: { ipv4Addr: "127.0.0.1:0", ipv6Addr: "[::1]:0" },
  })
  const served = yield* serve({ backend, dataDir: dir, listen: { port: 0 } })
  const client = yield* makeClient({ baseUrl: served.url, token: served.token })
  const group = yield* backend.createGroup("Bench", { memberName: "Bench" })
  // (1) a bare Iroh store of its own.
  const store = Context.get(
    yield* Layer.build(
      irohLayer({ dir: join(dir, "bare"), ipv4Addr: "127.0.0.1:0", ipv6Addr: "[::1]:0" }),
    ),
    BlobStore,
  )
  // (4) curl streams this file up and the answer to /dev/null.
  const file = join(dir, "input.bin")
  yield* Effect.promise(async () => {
    const handle = await open(file, "w")
    for (let at = 0; at < size; at += block.length) {
      await handle.write(block.subarray(0, Math.min(block.length, size - at)))
    }
    await handle.close()
  })
  const url = `${served.url}/v1/groups/${encodeURIComponent(group.key)}/repos/mine/files/curl.bin`
  const curl = (args: ReadonlyArray<string>) =>
    Effect.promise(() =>
      promisify(execFile)("curl", ["-sSf", "-H", `authorization: Bearer ${served.token}`, ...args]),
    )

  interface Path {
    readonly name: string
    readonly up: Effect.Effect<unknown, unknown>
    readonly down: Effect.Effect<unknown, unknown>
  }
  let stored: BlobHash | undefined
  const paths: ReadonlyArray<Path> = [
    {
      name: "blob-store, bare Iroh (no encryption)",
      up: Effect.map(store.addStream(input()), (hash) => {
        stored = hash
      }),
      down: whole(
        Effect.suspend(() =>
          stored === undefined
            ? Effect.die(new Error("nothing stored"))
            : drain(store.read(stored)),
        ),
      ),
    },
    {
      name: "backend in-process (encrypt + store + publish / decrypt)",
      up: backend.writeFile(group.key, "direct.bin", input()),
      down: whole(
        Effect.flatMap(backend.readFile(group.key, "mine", "direct.bin"), (r) => drain(r.bytes)),
      ),
    },
    {
      name: "RPC, typed client in the same process",
      up: client.files.upload(group.key, "rpc.bin", input()),
      down: whole(
        Effect.scoped(
          Effect.flatMap(client.files.download(group.key, "mine", "rpc.bin"), (d) =>
            drain(d.bytes),
          ),
        ),
      ),
    },
    {
      name: "RPC, curl in a second process",
      up: curl(["-T", file, url]),
      down: curl(["-o", "/dev/null", url]),
    },
  ]
  interface Samples {
    readonly up: Array<Sample>
    readonly down: Array<Sample>
  }
  const samples: ReadonlyArray<Samples> = paths.map(() => ({ up: [], down: [] }))
  const loadBefore = loadavg()
  for (let run = 0; run < runs; run++) {
    for (const [i, path] of paths.entries()) {
      samples[i]?.up.push(yield* timed(path.up))
      samples[i]?.down.push(yield* timed(path.down))
    }
  }
  const loadAfter = loadavg()
  const rates = samples.map((s) => ({ up: s.up.map(mibps), down: s.down.map(mibps) }))
  type Rates = (typeof rates)[number]
  const cell = (xs: ReadonlyArray<number>) =>
    xs.length === 1
      ? median(xs).toFixed(1)
      : `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)})`
  const peak = (s: Samples) =>
    `${Math.max(...s.up.map((x) => x.peakMiB)).toFixed(0)} / ${Math.max(...s.down.map((x) => x.peakMiB)).toFixed(0)}`
  console.log(
    `\nThroughput, ${values.mib} MiB per transfer, MiB/s: median of ${runs} run(s) (min-max), one stream each way`,
  )
  console.log(
    `V8 flags: ${values["default-gc"] ? "default" : "--external-memory-accounted-in-global-limit --heap-growing-percent=50 (as the daemon)"}${process.execArgv.includes("--max-semi-space-size=1") ? " --max-semi-space-size=1" : ""}; ${availableParallelism()} CPUs; load average (1/5/15 min) ${loadBefore.map((l) => l.toFixed(1)).join(" ")} before, ${loadAfter.map((l) => l.toFixed(1)).join(" ")} after\n`,
  )
  console.log("| path | upload | download | peak RSS MiB up / down |\n|---|---|---|---|")
  for (const [i, path] of paths.entries()) {
    const s = samples[i] as Samples
    console.log(
      `| ${path.name} | ${cell(s.up.map(mibps))} | ${cell(s.down.map(mibps))} | ${peak(s)} |`,
    )
  }
  const [bare, direct, typed, curled] = rates as [Rates, Rates, Rates, Rates]
  const ratio = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => median(a) / median(b)
  const verdict = (up: number, down: number) =>
    up >= TARGET && down >= TARGET
      ? "yes"
      : `no (${[up < TARGET ? "upload" : "", down < TARGET ? "download" : ""].filter((x) => x !== "").join(", ")})`
  console.log(
    `\nRPC / backend in-process (the layer beneath): median over median; target ≥ ${TARGET.toFixed(2)} both ways\n`,
  )
  console.log("| client | upload | download | target met |\n|---|---|---|---|")
  for (const [name, r] of [
    ["curl, second process", curled],
    ["typed client, same process", typed],
  ] as const) {
    const up = ratio(r.up, direct.up)
    const down = ratio(r.down, direct.down)
    console.log(`| ${name} | ${up.toFixed(2)} | ${down.toFixed(2)} | ${verdict(up, down)} |`)
  }
  console.log(
    `\nFor comparison, RPC (curl) / bare blob-store (no encryption): upload ${ratio(curled.up, bare.up).toFixed(2)}, download ${ratio(curled.down, bare.down).toFixed(2)}`,
  )

  // List routes under load from a second process.
  const files = Number(values.files)
  yield* Effect.forEach(
    Array.from({ length: files }, (_, i) => i),
    (i) => backend.writeFile(group.key, `f${i}.txt`, Stream.make(block.subarray(0, 1024))),
    { discard: true },
  )
  const base = `${served.url}/v1`
  const key = encodeURIComponent(group.key)
  const targets = [
    ["GET /v1/groups", `${base}/groups`],
    [
      `GET /v1/groups/:g/repos/mine/files (${files + 2} files)`,
      `${base}/groups/${key}/repos/mine/files`,
    ],
    ["GET /v1/groups/:g/repos", `${base}/groups/${key}/repos`],
    ["GET /v1/status", `${base}/status`],
  ] as const
  console.log(
    `\nautocannon, ${values.connections} connections, ${values.seconds} s each (second process)\n`,
  )
  console.log("| route | req/s | p50 ms | p99 ms | non-2xx | errors |\n|---|---|---|---|---|---|")
  for (const [name, url] of targets) {
    const r = yield* Effect.promise(() => autocannon(url, served.token))
    console.log(
      `| ${name} | ${r.requests.average.toFixed(0)} | ${r.latency.p50} | ${r.latency.p99} | ${r.non2xx} | ${r.errors} |`,
    )
  }
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  },
)
