// The private path at WAN round trips: a stream between two real Veilid nodes through
// private routes, on a testnet whose every node's link is delayed (veilid-testnet's
// emulated network), at several round trips in one run:
//   veilid-testnet exec -- node --conditions=@save-dweb/source bench/wan.bench.ts \
//     [--rtts 0,50,150 --mib 16 --windows auto,before,16,64,128 --baseline-kib 1024,128,48]
// A round trip R means every node adds R/2 to what it sends, so R between any two nodes;
// a private-route call crosses several nodes each way, so it takes several R (measured:
// "call"). Rows: (a) the original design, 1 KiB frames stop-and-wait (it moves less,
// `--baseline-kib` per round trip, and its rate is compared), (c) 32 KiB frames with a
// window ("auto": unset, the default, sized from the measured call time and paced by the
// delivery rate; "before": unset, as before the pacing and early resends, i.e.
// `paceWindow: false, resendEarly: false`). "window bound": window × frame size per
// measured call, what the window allows if nothing else limits (for "auto", the most the
// sized window allows). Prints one table; asserts nothing about time.
import { parseArgs } from "node:util"
import { SecretKey } from "@save-dweb/crypto"
import { decodeConfig, makeVeilid, Veilid } from "@save-dweb/veilid"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Effect, Stream } from "effect"
import { makeTunnels } from "../src/index.ts"
import { sizeWindow } from "../src/options.ts"

const { values } = parseArgs({
  options: {
    rtts: { type: "string", default: "0,50,150" },
    mib: { type: "string", default: "16" },
    windows: { type: "string", default: "auto,before,16,64,128" },
    "baseline-kib": { type: "string", default: "1024,128,48" },
    calls: { type: "string", default: "9" },
  },
})
const rtts = values.rtts.split(",").map(Number)
const size = Number(values.mib) * 2 ** 20
const windows = values.windows
  .split(",")
  .map((w): number | "auto" | "before" => (w === "auto" || w === "before" ? w : Number(w)))
const baselineKib = values["baseline-kib"].split(",").map(Number)

const block = new Uint8Array(64 * 1024).map((_, i) => (i * 31) & 0xff)
const bytesStream = (n: number) =>
  Stream.fromIterable(
    Array.from({ length: Math.ceil(n / block.length) }, (_, i) =>
      block.subarray(0, Math.min(block.length, n - i * block.length)),
    ),
  )
const median = (values: ReadonlyArray<number>) =>
  [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? Number.NaN

interface Row {
  readonly rtt: number
  readonly call: number
  readonly mode: string
  readonly baseline: boolean
  readonly mib: number
  readonly seconds: number
  /** What the window allows at the measured call time: window × frame per call. */
  readonly bound: number
}

const program = Effect.gen(function* () {
  const started = Date.now()
  const testnet = yield* withTestnet()
  const node = (name: string) =>
    Effect.flatMap(decodeConfig(testnet.nodeConfig(name)), (config) =>
      makeVeilid(config, { readyTimeout: "90 seconds" }),
    )
  const [a, b] = yield* Effect.all([node("wan-a"), node("wan-b")], { concurrency: 2 })
  console.log(`testnet and two nodes ready in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  const key = yield* SecretKey.generate
  const server = yield* makeTunnels({
    maxWindow: Math.max(128, ...windows.map((w) => (typeof w === "number" ? w : 0))),
  }).pipe(Effect.provideService(Veilid, b))
  const client = yield* makeTunnels().pipe(Effect.provideService(Veilid, a))
  const clientBefore = yield* makeTunnels({ paceWindow: false, resendEarly: false }).pipe(
    Effect.provideService(Veilid, a),
  )
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
  const peer = yield* client.connect((yield* server.route).blob, key)
  const peerBefore = yield* clientBefore.connect((yield* server.route).blob, key)
  const download = (bytes: number, frameSize: number, window: number | "auto" | "before") =>
    Effect.gen(function* () {
      const t0 = performance.now()
      let received = 0
      yield* (window === "before" ? peerBefore : peer)
        .open(
          "bench/download",
          Stream.make(new TextEncoder().encode(String(bytes))),
          typeof window === "number" ? { frameSize, window } : { frameSize },
        )
        .pipe(Stream.runForEach((chunk) => Effect.sync(() => (received += chunk.length))))
      if (received !== bytes) throw new Error(`got ${received} of ${bytes} bytes`)
      return (performance.now() - t0) / 1000
    })

  const rows: Array<Row> = []
  for (const [i, rtt] of rtts.entries()) {
    for (const name of [...testnet.nodes.map((n) => n.name), "wan-a", "wan-b"]) {
      testnet.shape(name, rtt > 0 ? { delayMs: rtt / 2 } : {})
    }
    // Warm up on the new links, then time small calls: one private-route round trip each.
    yield* peer.request("bench/download", new TextEncoder().encode("1024"))
    const calls: Array<number> = []
    for (let c = 0; c < Number(values.calls); c++) {
      const t0 = performance.now()
      yield* peer.request("bench/download", new TextEncoder().encode("16"))
      calls.push(performance.now() - t0)
    }
    const call = median(calls)
    const modes = [
      {
        mode: "(a) 1 KiB stop-and-wait",
        baseline: true,
        frameSize: 1024,
        window: 1 as number | "auto" | "before",
      },
      ...windows.map((window) => ({
        mode:
          window === "auto"
            ? `(c) 32 KiB window ≤ ${sizeWindow(call, 32_768, 16 * 2 ** 20, 128)}, paced (default)`
            : window === "before"
              ? `(c) 32 KiB window ${sizeWindow(call, 32_768, 16 * 2 ** 20, 128)} (sized, before)`
              : `(c) 32 KiB window ${window}`,
        baseline: false,
        frameSize: 32_768,
        window,
      })),
    ]
    for (const m of modes) {
      const bytes = m.baseline ? (baselineKib[i] ?? baselineKib.at(-1) ?? 64) * 1024 : size
      const seconds = yield* download(bytes, m.frameSize, m.window)
      const inFlight =
        typeof m.window === "number" ? m.window : sizeWindow(call, m.frameSize, 16 * 2 ** 20, 128)
      const bound = (inFlight * m.frameSize) / 2 ** 20 / (call / 1000)
      const row = {
        rtt,
        call,
        mode: m.mode,
        baseline: m.baseline,
        mib: bytes / 2 ** 20,
        seconds,
        bound,
      }
      rows.push(row)
      console.log(
        `rtt ${String(rtt).padStart(3)} ms  call ${call.toFixed(0).padStart(5)} ms  ${m.mode.padEnd(24)} ${row.mib.toFixed(3).padStart(7)} MiB ${seconds.toFixed(2).padStart(7)} s ${(row.mib / seconds).toFixed(3).padStart(8)} MiB/s`,
      )
    }
  }

  console.log(
    "\n| round trip | private-route call (median) | mode | MiB | seconds | MiB/s | × (a) | window bound MiB/s | of bound |",
  )
  console.log("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
  for (const row of rows) {
    const base = rows.find((r) => r.rtt === row.rtt && r.baseline)
    const rate = row.mib / row.seconds
    const ratio = base ? (rate / (base.mib / base.seconds)).toFixed(1) : ""
    console.log(
      `| ${row.rtt} ms | ${row.call.toFixed(0)} ms | ${row.mode} | ${Number(row.mib.toFixed(3))} | ${row.seconds.toFixed(2)} | ${rate.toFixed(3)} | ${ratio} | ${row.bound.toFixed(3)} | ${Math.round((100 * rate) / row.bound)} % |`,
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
