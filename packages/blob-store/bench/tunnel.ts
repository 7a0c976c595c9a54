// Throughput of the two transports in one run, on a private Veilid testnet:
//   pnpm --filter @save-dweb/blob-store bench:tunnel [-- --mib 16 --reps 3 --files 32]
// A provider process (Veilid node + Iroh store serving over its tunnel) and this process
// (Veilid node + Iroh store) fetch the same blob over Iroh QUIC and through the tunnel,
// alternating, then a collection from each and from both at once. Prints a table; asserts
// nothing about time.
import { spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { parseArgs } from "node:util"
import { SecretKey } from "@save-dweb/crypto"
import { makeTunnels } from "@save-dweb/tunnels"
import { decodeConfig, makeVeilid, Veilid } from "@save-dweb/veilid"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Effect, Stream } from "effect"
import {
  askHas,
  BLOBS_PROTOCOL,
  type BlobHash,
  type FetchRequest,
  type Source,
  tunnelSource,
} from "../src/index.ts"
import { makeIroh } from "../src/iroh-store.ts"
import { encodeRequest } from "../src/tunnel-protocol.ts"
import { MiB } from "./common.ts"

const { values } = parseArgs({
  // pnpm passes the `--` of `pnpm run bench:tunnel -- --mib 64` through.
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: {
    mib: { type: "string", default: "16" },
    reps: { type: "string", default: "3" },
    files: { type: "string", default: "32" },
  },
})
const sizes = values.mib.split(",").map(Number)
const reps = Number(values.reps)
const files = Number(values.files)

const median = (xs: ReadonlyArray<number>) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

const program = Effect.gen(function* () {
  const started = Date.now()
  const base = yield* Effect.acquireRelease(
    Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "blob-store-tunnel-bench-"))),
    (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true })),
  )
  const testnet = yield* withTestnet()
  const child = yield* Effect.acquireRelease(
    Effect.sync(() =>
      spawn(
        process.execPath,
        ["--conditions=@save-dweb/source", path.join(import.meta.dirname, "tunnel-provider.ts")],
        { stdio: ["pipe", "pipe", "inherit"] },
      ),
    ),
    (proc) =>
      Effect.callback<void>((resume) => {
        if (proc.exitCode !== null) return resume(Effect.void)
        proc.once("exit", () => resume(Effect.void))
        proc.stdin.write(`${JSON.stringify({ cmd: "exit" })}\n`)
      }),
  )
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const call = <A>(command: object) =>
    Effect.promise(async () => {
      child.stdin.write(`${JSON.stringify(command)}\n`)
      return JSON.parse((await lines.next()).value as string) as A
    })

  const key = yield* SecretKey.generate
  const providerDir = path.join(base, "provider")
  yield* Effect.promise(() => fs.mkdir(providerDir))
  const [hello, veilid, store] = yield* Effect.all(
    [
      call<{ route: string; source: Source }>({
        config: testnet.nodeConfig("bench-provider"),
        key: SecretKey.toHex(key),
        dir: providerDir,
      }),
      Effect.flatMap(decodeConfig(testnet.nodeConfig("bench-fetcher")), (config) =>
        makeVeilid(config, { readyTimeout: "90 seconds" }),
      ),
      makeIroh({
        dir: path.join(base, "fetcher"),
        ipv4Addr: "127.0.0.1:0",
        ipv6Addr: "[::1]:0",
        fetchTimeoutMillis: 60_000,
      }),
    ],
    { concurrency: "unbounded" },
  )
  const tunnels = yield* makeTunnels().pipe(Effect.provideService(Veilid, veilid))
  const tunnel = tunnelSource(yield* tunnels.connect(Buffer.from(hello.route, "base64"), key), {
    id: "tunnel",
  })
  const iroh = hello.source
  console.log(`testnet, nodes and stores ready in ${((Date.now() - started) / 1000).toFixed(1)} s`)

  const rows: Array<{ case: string; mode: string; mib: number; rates: Array<number> }> = []
  const row = (label: string, mode: string, mib: number) => {
    const found = rows.find((r) => r.case === label && r.mode === mode)
    if (found) return found
    const fresh = { case: label, mode, mib, rates: [] as Array<number> }
    rows.push(fresh)
    return fresh
  }
  /** Times `effect`, then runs `after` (untimed: e.g. deleting what was fetched). */
  const timed = <A, E>(
    label: string,
    mode: string,
    mib: number,
    effect: Effect.Effect<A, E>,
    after: (a: A) => Effect.Effect<unknown, E> = () => Effect.void,
  ) =>
    Effect.gen(function* () {
      const t0 = performance.now()
      const a = yield* effect
      const seconds = (performance.now() - t0) / 1000
      yield* after(a)
      const r = row(label, mode, mib)
      r.rates.push(mib / seconds)
      console.log(
        `${label.padEnd(22)} ${mode.padEnd(38)} ${seconds.toFixed(2).padStart(7)} s ${(mib / seconds).toFixed(1).padStart(7)} MiB/s`,
      )
      return a
    })
  const fetchTimed = (label: string, mode: string, mib: number, request: FetchRequest) =>
    timed(label, mode, mib, store.fetch({ ...request, timeoutMillis: 60_000 }), () =>
      store.delete(request.hash),
    )
  const rawStream = (hash: BlobHash) =>
    Stream.runDrain(
      tunnel.peer.open(BLOBS_PROTOCOL, Stream.succeed(encodeRequest({ _tag: "Get", hash }))),
    )

  for (const size of sizes) {
    const { hash } = yield* call<{ hash: BlobHash }>({ cmd: "addRandom", size: size * MiB })
    yield* askHas(tunnel, [hash]) // warms the route
    const label = `blob ${size} MiB`
    for (let i = 0; i < reps; i++) {
      yield* fetchTimed(label, "Iroh QUIC", size, { hash, kind: "blob", sources: [iroh] })
      yield* fetchTimed(label, "tunnel", size, { hash, kind: "blob", sources: [tunnel] })
      yield* timed(label, "tunnel, bytes only (no hash, no disk)", size, rawStream(hash))
    }
    yield* call({ cmd: "delete", hash })
  }

  if (files > 0) {
    const fileSize = 512 * 1024
    const { hash: root } = yield* call<{ hash: BlobHash }>({
      cmd: "addCollection",
      count: files,
      size: fileSize,
    })
    const mib = (files * fileSize) / MiB
    const label = `${files} × 512 KiB`
    let split = ""
    for (let i = 0; i < reps; i++) {
      const collection = (mode: string, sources: ReadonlyArray<Source>) =>
        fetchTimed(label, mode, mib, { hash: root, kind: "collection", sources })
      yield* collection("Iroh QUIC", [iroh])
      yield* collection("tunnel", [tunnel])
      const both = yield* collection("Iroh QUIC + tunnel in one fetch", [iroh, tunnel])
      split = both.sources
        .map((s) => `${s.source === "tunnel" ? "tunnel" : "Iroh"} ${s.blobs}`)
        .join(", ")
    }
    row(label, `  blobs per source, last run: ${split}`, mib)
  }

  const header = ["case", "transport", "MiB/s (median)", "min–max", "× Iroh"]
  const table = rows.map((r) => {
    const iroh = rows.find((x) => x.case === r.case && x.mode === "Iroh QUIC")
    const rate = median(r.rates)
    return [
      r.case,
      r.mode,
      r.rates.length ? rate.toFixed(1) : "",
      r.rates.length ? `${Math.min(...r.rates).toFixed(1)}–${Math.max(...r.rates).toFixed(1)}` : "",
      r.rates.length && iroh ? (rate / median(iroh.rates)).toFixed(2) : "",
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`
  console.log(`\n${line(header)}`)
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`)
  for (const r of table) console.log(line(r))
  console.log(
    `\n${os.cpus().length} cores, Node ${process.version}; ${reps} runs each, alternating; provider in its own process.`,
  )
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  },
)
