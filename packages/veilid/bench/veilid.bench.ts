// Benchmark: Veilid on the private testnet (8 nodes) with two nodes of ours, A and B,
// in this process. Prints a table; asserts nothing about time. Run inside a testnet
// namespace: `pnpm --filter @save-dweb/veilid bench` (wraps it in `veilid-testnet exec`).
// BENCH_DHT_OPS (default 100) and BENCH_CALLS (default 256) size the runs.
import { performance } from "node:perf_hooks"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Effect, Schedule, Stream } from "effect"
import {
  decodeConfig,
  MAX_APP_MESSAGE_BYTES,
  makeVeilid,
  type RouteId,
  type VeilidShape,
} from "../src/index.ts"

const dhtOps = Number(process.env.BENCH_DHT_OPS ?? 100)
const calls = Number(process.env.BENCH_CALLS ?? 256)
const MiB = 1024 * 1024

interface Row {
  readonly what: string
  readonly ops: number
  readonly failed: number
  readonly medianMs?: number
  readonly p95Ms?: number
  readonly totalMs?: number
  readonly mibPerSec?: number
}

/** Nearest-rank percentile of sorted samples. */
const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ??
  Number.NaN

/** Runs `op(i)` for i < count, `concurrency` at a time; latencies of the successful ones. */
const timeOps = <E>(
  count: number,
  concurrency: number,
  op: (i: number) => Effect.Effect<unknown, E>,
) =>
  Effect.gen(function* () {
    const started = performance.now()
    const results = yield* Effect.forEach(
      Array.from({ length: count }, (_, i) => i),
      (i) =>
        Effect.gen(function* () {
          const t = performance.now()
          const exit = yield* Effect.exit(op(i))
          return exit._tag === "Success" ? performance.now() - t : undefined
        }),
      { concurrency },
    )
    const totalMs = performance.now() - started
    const latencies = results.filter((ms): ms is number => ms !== undefined).sort((x, y) => x - y)
    return { latencies, failed: count - latencies.length, totalMs }
  })

const latencyRow = (
  what: string,
  run: { latencies: ReadonlyArray<number>; failed: number; totalMs: number },
  bytesPerOp = 0,
): Row => ({
  what,
  ops: run.latencies.length + run.failed,
  failed: run.failed,
  medianMs: percentile(run.latencies, 50),
  p95Ms: percentile(run.latencies, 95),
  totalMs: run.totalMs,
  ...(bytesPerOp > 0
    ? { mibPerSec: (run.latencies.length * bytesPerOp) / MiB / (run.totalMs / 1000) }
    : {}),
})

const bytes = (length: number, seed: number) => {
  const b = new Uint8Array(length)
  crypto.getRandomValues(b.subarray(0, Math.min(length, 65_536)))
  b[0] = seed & 0xff
  return b
}

/** Retries until it succeeds or `deadlineMs` passes: a new route can need a moment. */
const untilDone = <A, E, R>(effect: Effect.Effect<A, E, R>, deadlineMs: number) =>
  effect.pipe(Effect.retry({ schedule: Schedule.spaced("300 millis") }), Effect.timeout(deadlineMs))

const dhtRows = (a: VeilidShape, b: VeilidShape) =>
  Effect.gen(function* () {
    const subkeys = 16
    const record = yield* a.dhtCreate({ kind: "DFLT", oCnt: subkeys })
    const value = bytes(1024, 0)
    const set = yield* timeOps(dhtOps, 1, (i) => a.dhtSet(record.key, i % subkeys, value))
    yield* b.dhtOpen(record.key)
    const network = yield* timeOps(dhtOps, 1, (i) =>
      b.dhtGet(record.key, i % subkeys, { forceRefresh: true }),
    )
    const cached = yield* timeOps(dhtOps, 1, (i) => b.dhtGet(record.key, i % subkeys))
    yield* b.dhtClose(record.key)
    yield* a.dhtClose(record.key)
    return [
      latencyRow("DHT set, 1 KiB (A)", set),
      latencyRow("DHT get, force_refresh (B, network)", network),
      latencyRow("DHT get, cached (B, local)", cached),
    ]
  })

const appCallRows = (a: VeilidShape, b: VeilidShape) =>
  Effect.gen(function* () {
    // B answers every call with a reply as large as the request.
    const updates = yield* b.subscribe
    yield* updates.pipe(
      Stream.runForEach((u) =>
        u._tag === "AppCall"
          ? b.appCallReply(u.callId, u.message).pipe(Effect.ignore)
          : Effect.void,
      ),
      Effect.forkScoped,
    )
    const route = yield* untilDone(b.privateRoute(), 60_000)
    const target: RouteId = yield* a.importRemotePrivateRoute(route.blob)
    const message = bytes(MAX_APP_MESSAGE_BYTES, 1)
    const rows: Array<Row> = []
    for (const concurrency of [1, 8, 32]) {
      const count = concurrency === 1 ? Math.min(calls, 100) : calls
      const run = yield* timeOps(count, concurrency, () => a.appCall(target, message))
      rows.push(
        latencyRow(
          `app_call 32 KiB ↔ 32 KiB, ${concurrency} at a time`,
          run,
          MAX_APP_MESSAGE_BYTES,
        ),
      )
    }
    return rows
  })

const fmt = (n: number | undefined, digits = 1) => (n === undefined ? "" : n.toFixed(digits))

const printTable = (rows: ReadonlyArray<Row>) => {
  const header = ["measure", "ops", "failed", "median ms", "p95 ms", "total ms", "MiB/s each way"]
  const lines = rows.map((r) => [
    r.what,
    String(r.ops),
    String(r.failed),
    fmt(r.medianMs),
    fmt(r.p95Ms),
    fmt(r.totalMs, 0),
    fmt(r.mibPerSec, 2),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)))
  const row = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")} |`
  console.log(row(header))
  console.log(
    `| ${widths.map((w, i) => (i === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`,
  )
  for (const l of lines) console.log(row(l))
}

const main = Effect.gen(function* () {
  const startedAt = performance.now()
  const testnet = yield* withTestnet()
  const testnetMs = performance.now() - startedAt
  const nodesAt = performance.now()
  const [a, b] = yield* Effect.all(
    ["a", "b"].map((name) =>
      Effect.flatMap(decodeConfig(testnet.nodeConfig(name)), (config) =>
        makeVeilid(config, { readyTimeout: "90 seconds" }),
      ),
    ),
    { concurrency: 2 },
  )
  const nodesMs = performance.now() - nodesAt
  if (a === undefined || b === undefined) return yield* Effect.die("two nodes expected")

  const rows: Array<Row> = [
    { what: "testnet start-up, 8 nodes all ready", ops: 1, failed: 0, totalMs: testnetMs },
    { what: "2 nodes under test attached and ready", ops: 1, failed: 0, totalMs: nodesMs },
    ...(yield* dhtRows(a, b)),
    ...(yield* appCallRows(a, b)),
  ]
  console.log(
    `veilid bench: ${testnet.nodes.length}-node testnet + A and B in one process, ` +
      `${navigator.hardwareConcurrency} cores, node ${process.version}\n`,
  )
  printTable(rows)
})

await Effect.runPromise(Effect.scoped(main))
