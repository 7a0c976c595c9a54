// Throughput of a stream between two real Veilid nodes on a private testnet:
//   pnpm --filter @save-dweb/tunnels bench [-- --mib 16 --windows 4,8,16,32 --upload]
// (a) 1 KiB frames stop-and-wait (the original Rust design), (b) 32 KiB stop-and-wait,
// (c) 32 KiB frames with a window. Prints a table; asserts nothing about time.
import { parseArgs } from "node:util"
import { SecretKey } from "@save-dweb/crypto"
import { decodeConfig, makeVeilid, Veilid } from "@save-dweb/veilid"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Effect, Stream } from "effect"
import { makeTunnels } from "../src/index.ts"

const { values } = parseArgs({
  options: {
    mib: { type: "string", default: "16" },
    windows: { type: "string", default: "4,8,16,32" },
    upload: { type: "boolean", default: false },
    "baseline-mib": { type: "string" },
  },
})
const size = Number(values.mib) * 1024 * 1024
const baselineSize = Number(values["baseline-mib"] ?? values.mib) * 1024 * 1024
const windows = values.windows.split(",").map(Number)

interface Mode {
  readonly name: string
  readonly frameSize: number
  readonly window: number
  readonly bytes: number
}

const modes: ReadonlyArray<Mode> = [
  { name: "(a) 1 KiB stop-and-wait", frameSize: 1024, window: 1, bytes: baselineSize },
  { name: "(b) 32 KiB stop-and-wait", frameSize: 32_768, window: 1, bytes: size },
  ...windows.map((window) => ({
    name: `(c) 32 KiB window ${window}`,
    frameSize: 32_768,
    window,
    bytes: size,
  })),
]

const block = new Uint8Array(64 * 1024).map((_, i) => (i * 31) & 0xff)

/** `n` bytes in 64 KiB chunks. */
const bytesStream = (n: number) =>
  Stream.fromIterable(
    Array.from({ length: Math.ceil(n / block.length) }, (_, i) =>
      block.subarray(0, Math.min(block.length, n - i * block.length)),
    ),
  )

const program = Effect.gen(function* () {
  const started = Date.now()
  const testnet = yield* withTestnet()
  const node = (name: string) =>
    Effect.flatMap(decodeConfig(testnet.nodeConfig(name)), (config) =>
      makeVeilid(config, { readyTimeout: "90 seconds" }),
    )
  const [a, b] = yield* Effect.all([node("bench-a"), node("bench-b")], { concurrency: 2 })
  console.log(`testnet and two nodes ready in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  const key = yield* SecretKey.generate
  const server = yield* makeTunnels({ maxWindow: 64 }).pipe(Effect.provideService(Veilid, b))
  const client = yield* makeTunnels().pipe(Effect.provideService(Veilid, a))

  yield* server.serve(
    "bench/download",
    (call) =>
      Stream.unwrap(
        Effect.map(Stream.mkUint8Array(call.input), (req) =>
          bytesStream(Number(new TextDecoder().decode(req))),
        ),
      ),
    { keys: [key] },
  )
  yield* server.serve(
    "bench/upload",
    (call) =>
      Stream.fromEffect(
        Effect.map(
          Stream.runFold(
            call.input,
            () => 0,
            (n, chunk) => n + chunk.length,
          ),
          (n) => new TextEncoder().encode(String(n)),
        ),
      ),
    { keys: [key] },
  )
  const peer = yield* client.connect((yield* server.route).blob, key)
  // Warm up the routes.
  yield* peer.request("bench/download", new TextEncoder().encode("1024"))

  const rows: Array<{ mode: string; direction: string; mib: number; seconds: number }> = []
  const run = (mode: Mode, direction: "download" | "upload") =>
    Effect.gen(function* () {
      const t0 = performance.now()
      let received = 0
      if (direction === "download") {
        yield* peer
          .open("bench/download", Stream.make(new TextEncoder().encode(String(mode.bytes))), mode)
          .pipe(Stream.runForEach((chunk) => Effect.sync(() => (received += chunk.length))))
      } else {
        const reply = yield* Stream.mkUint8Array(
          peer.open("bench/upload", bytesStream(mode.bytes), mode),
        )
        received = Number(new TextDecoder().decode(reply))
      }
      const seconds = (performance.now() - t0) / 1000
      if (received !== mode.bytes) throw new Error(`${mode.name}: got ${received} of ${mode.bytes}`)
      const row = { mode: mode.name, direction, mib: mode.bytes / 2 ** 20, seconds }
      rows.push(row)
      console.log(
        `${row.mode.padEnd(26)} ${direction.padEnd(8)} ${String(Number(row.mib.toFixed(2))).padStart(4)} MiB ${seconds.toFixed(2).padStart(8)} s ${(row.mib / seconds).toFixed(3).padStart(9)} MiB/s`,
      )
    })

  const directions: ReadonlyArray<"download" | "upload"> = values.upload
    ? ["download", "upload"]
    : ["download"]
  for (const direction of directions) for (const mode of modes) yield* run(mode, direction)

  console.log("\n| mode | direction | MiB | seconds | MiB/s | × (a) |")
  console.log("|---|---|---:|---:|---:|---:|")
  for (const row of rows) {
    const base = rows.find((r) => r.direction === row.direction && r.mode.startsWith("(a)"))
    const rate = row.mib / row.seconds
    const ratio = base === undefined ? "" : (rate / (base.mib / base.seconds)).toFixed(1)
    console.log(
      `| ${row.mode} | ${row.direction} | ${Number(row.mib.toFixed(2))} | ${row.seconds.toFixed(2)} | ${rate.toFixed(3)} | ${ratio} |`,
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
