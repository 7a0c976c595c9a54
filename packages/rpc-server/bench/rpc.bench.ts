// Throughput through the RPC against the layers below it, and load on the list routes,
// with a real backend on a private Veilid testnet (loopback only):
//   pnpm --filter @save-dweb/rpc-server bench [-- --mib 128 --connections 10 --seconds 10]
// (1) the same bytes into and out of a bare Iroh store (blob-store, no encryption);
// (2) through the backend in-process (encrypt + store + publish; decrypt on read);
// (3) through the RPC: the typed client over HTTP on 127.0.0.1, streamed both ways.
// Then autocannon, in a second process, on the list routes. Prints tables, asserts nothing.
import { execFile } from "node:child_process"
import { mkdtemp, open, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs, promisify } from "node:util"
import { makeRealBackend } from "@save-dweb/backend"
import { BlobStore, layer as irohLayer } from "@save-dweb/blob-store"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Context, Effect, Layer, Stream } from "effect"
import { makeClient, serve } from "../src/index.ts"

const { values } = parseArgs({
  // `pnpm run bench -- --mib 64` passes the `--` along.
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: {
    mib: { type: "string", default: "128" },
    connections: { type: "string", default: "10" },
    seconds: { type: "string", default: "10" },
    files: { type: "string", default: "100" },
  },
})
const size = Number(values.mib) * 1024 * 1024
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

/** Time and peak RSS (sampled every 50 ms) of an effect. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    let peak = process.memoryUsage.rss()
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss())
    }, 50)
    const start = performance.now()
    const value = yield* Effect.ensuring(
      effect,
      Effect.sync(() => clearInterval(sampler)),
    )
    return { value, seconds: (performance.now() - start) / 1000, peakMiB: peak / 1024 / 1024 }
  })
const mibps = (seconds: number) => size / 1024 / 1024 / seconds

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
  const storeUp = yield* timed(store.addStream(input()))
  const storeDown = yield* timed(drain(store.read(storeUp.value)))

  // (2) the backend in-process.
  const directUp = yield* timed(backend.writeFile(group.key, "direct.bin", input()))
  const directDown = yield* timed(
    Effect.flatMap(backend.readFile(group.key, "mine", "direct.bin"), (r) => drain(r.bytes)),
  )

  // (3) the RPC.
  const rpcUp = yield* timed(client.files.upload(group.key, "rpc.bin", input()))
  const rpcDown = yield* timed(
    Effect.scoped(
      Effect.flatMap(client.files.download(group.key, "mine", "rpc.bin"), (d) => drain(d.bytes)),
    ),
  )
  // (4) the RPC from a second process: curl streams a file up and the answer to /dev/null.
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
    timed(
      Effect.promise(() =>
        promisify(execFile)("curl", [
          "-sSf",
          "-H",
          `authorization: Bearer ${served.token}`,
          ...args,
        ]),
      ),
    )
  const curlUp = yield* curl(["-T", file, url])
  const curlDown = yield* curl(["-o", "/dev/null", url])

  for (const n of [storeDown.value, directDown.value, rpcDown.value]) {
    if (n !== size) return yield* Effect.die(new Error(`read ${n} bytes, expected ${size}`))
  }

  const row = (
    name: string,
    up: { readonly seconds: number; readonly peakMiB: number },
    down: { readonly seconds: number; readonly peakMiB: number },
  ) =>
    `| ${name} | ${mibps(up.seconds).toFixed(1)} | ${mibps(down.seconds).toFixed(1)} | ${up.peakMiB.toFixed(0)} / ${down.peakMiB.toFixed(0)} |`
  console.log(`\nThroughput, ${values.mib} MiB, MiB/s (one stream each way)\n`)
  console.log(
    "| path | upload | download | peak RSS MiB (this process) up / down |\n|---|---|---|---|",
  )
  console.log(row("blob-store, bare Iroh (no encryption)", storeUp, storeDown))
  console.log(row("backend in-process (encrypt/decrypt)", directUp, directDown))
  console.log(row("RPC, typed client in the same process", rpcUp, rpcDown))
  console.log(row("RPC, curl in a second process", curlUp, curlDown))
  const ratio = (a: number, b: number) => (a / b).toFixed(2)
  console.log("\n| ratio | upload | download |\n|---|---|---|")
  console.log(
    `| RPC (curl) / backend in-process | ${ratio(directUp.seconds, curlUp.seconds)} | ${ratio(directDown.seconds, curlDown.seconds)} |`,
  )
  console.log(
    `| RPC (typed client) / backend in-process | ${ratio(directUp.seconds, rpcUp.seconds)} | ${ratio(directDown.seconds, rpcDown.seconds)} |`,
  )
  console.log(
    `| RPC (curl) / bare blob-store | ${ratio(storeUp.seconds, curlUp.seconds)} | ${ratio(storeDown.seconds, curlDown.seconds)} |`,
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
