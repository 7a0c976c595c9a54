// DHT get/set latency through dht-records (Schema + CBOR + envelope + retries)
// against the raw Veilid facade, on a private testnet: two nodes of ours, one
// writing, one reading. Run inside `veilid-testnet exec` (the `bench` script
// does). BENCH_OPS=<n> sets the operations per row (default 50; the watch row
// takes 40 % of that: Veilid sends change notifications once a second).
import { SecretKey } from "@save-dweb/crypto"
import { decodeConfig, makeVeilid, type VeilidShape } from "@save-dweb/veilid"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Effect, Option, Queue, Schema, type Scope, Stream } from "effect"
import { defineRecord, makeDhtRecords } from "../src/index.ts"

const ops = Number(process.env.BENCH_OPS ?? 50)
const watchOps = Math.max(1, Math.round(ops * 0.4))

const Note = Schema.Struct({ text: Schema.String, n: Schema.Number })
const Notes = defineRecord("bench-notes", { "0..": Note })

const noteFor = (i: number) => ({ text: `note ${i} `.padEnd(100, "."), n: i })
const bytesFor = (i: number) => new TextEncoder().encode(JSON.stringify(noteFor(i)))

interface Row {
  readonly name: string
  readonly raw: ReadonlyArray<number>
  readonly typed: ReadonlyArray<number>
}

const quantile = (samples: ReadonlyArray<number>, q: number) => {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN
}

const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const start = performance.now()
    yield* effect
    return performance.now() - start
  })

/**
 * Alternates raw and typed runs so both see the same load. With `dephase`, waits a
 * random 0-1 s (untimed) before each run: storage nodes send change notifications on
 * a 1 s tick of their own, and a fixed phase would measure the tick, not the code.
 */
const measure = <E1, E2>(
  name: string,
  raw: (i: number) => Effect.Effect<unknown, E1>,
  typed: (i: number) => Effect.Effect<unknown, E2>,
  options: { readonly count?: number; readonly dephase?: boolean } = {},
) =>
  Effect.gen(function* () {
    const rawTimes: Array<number> = []
    const typedTimes: Array<number> = []
    const pause = options.dephase
      ? Effect.suspend(() => Effect.sleep(Math.random() * 1000))
      : Effect.void
    for (let i = 0; i < (options.count ?? ops); i++) {
      yield* pause
      rawTimes.push(yield* timed(raw(i)))
      yield* pause
      typedTimes.push(yield* timed(typed(i)))
    }
    return { name, raw: rawTimes, typed: typedTimes } satisfies Row
  })

const ms = (n: number) => n.toFixed(n < 10 ? 2 : 1)

const printTable = (rows: ReadonlyArray<Row>) => {
  const header = ["operation", "raw median", "raw p95", "typed median", "typed p95", "overhead"]
  const lines = rows.map((r) => {
    const rawMedian = quantile(r.raw, 0.5)
    const typedMedian = quantile(r.typed, 0.5)
    return [
      r.name,
      `${ms(rawMedian)} ms`,
      `${ms(quantile(r.raw, 0.95))} ms`,
      `${ms(typedMedian)} ms`,
      `${ms(quantile(r.typed, 0.95))} ms`,
      `${(typedMedian / rawMedian).toFixed(2)}x (${typedMedian >= rawMedian ? "+" : "-"}${ms(Math.abs(typedMedian - rawMedian))} ms)`,
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)))
  const format = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`
  console.log(format(header))
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`)
  for (const line of lines) console.log(format(line))
}

const program = Effect.gen(function* () {
  const testnet = yield* withTestnet()
  const node = (name: string): Effect.Effect<VeilidShape, unknown, Scope.Scope> =>
    Effect.flatMap(decodeConfig(testnet.nodeConfig(name)), (config) =>
      makeVeilid(config, { readyTimeout: "90 seconds" }),
    )
  const [va, vb] = yield* Effect.all([node("a"), node("b")], { concurrency: 2 })
  const a = yield* makeDhtRecords(va)
  const b = yield* makeDhtRecords(vb)
  const encryptionKey = yield* SecretKey.generate

  const raw = yield* va.dhtCreate({ kind: "DFLT", oCnt: 1 })
  yield* va.dhtSet(raw.key, 0, bytesFor(-1))
  yield* vb.dhtOpen(raw.key)
  const typed = yield* a.create(Notes, { schema: { kind: "DFLT", subkeys: 1 }, encryptionKey })
  yield* typed.set(0, noteFor(-1))
  const typedB = yield* b.open(Notes, typed.key, { encryptionKey })

  console.log(
    `veilid testnet: 8 nodes + 2 of ours; ${ops} operations per row (watch: ${watchOps}), ~120-byte values\n`,
  )
  const rows: Array<Row> = []
  rows.push(
    yield* measure(
      "set (writer)",
      (i) => va.dhtSet(raw.key, 0, bytesFor(i)),
      (i) => typed.set(0, noteFor(i)),
    ),
  )
  rows.push(
    yield* measure(
      "get, refresh (reader)",
      () => vb.dhtGet(raw.key, 0, { forceRefresh: true }),
      () => typedB.get(0, { refresh: true }),
    ),
  )
  rows.push(
    yield* measure(
      "get, local copy (reader)",
      () => vb.dhtGet(raw.key, 0),
      () => typedB.get(0),
    ),
  )

  // A change made by the writer, seen by the reader's watch (Veilid ValueChange).
  const rawUpdates = yield* vb.subscribe
  const rawChanges = yield* Queue.unbounded<number>()
  yield* rawUpdates.pipe(
    Stream.runForEach((u) =>
      u._tag === "ValueChange" && u.key === raw.key && u.value !== undefined
        ? Queue.offer(rawChanges, u.value.seq)
        : Effect.void,
    ),
    Effect.forkScoped,
  )
  yield* vb.dhtWatch(raw.key)
  const typedChanges = yield* Queue.unbounded<number>()
  yield* typedB.watch({ reconcileInterval: "10 minutes" }).pipe(
    Stream.runForEach((e) =>
      e._tag === "Changed" ? Queue.offer(typedChanges, e.value.n) : Effect.void,
    ),
    Effect.forkScoped,
  )
  const until = <A>(queue: Queue.Queue<A>, done: (a: A) => boolean) =>
    Effect.gen(function* () {
      while (!done(yield* Queue.take(queue))) {
        // earlier notifications
      }
    }).pipe(Effect.timeout("30 seconds"))
  // Let both watches settle on the nodes before timing them.
  yield* va.dhtSet(raw.key, 0, bytesFor(1_000_000))
  yield* typed.set(0, noteFor(1_000_000))
  yield* until(typedChanges, (n) => n === 1_000_000)
  let rawSeq = Option.getOrThrow(yield* va.dhtGet(raw.key, 0)).seq
  yield* until(rawChanges, (seq) => seq === rawSeq)
  rows.push(
    yield* measure(
      "set, seen by a watch",
      (i) =>
        Effect.gen(function* () {
          yield* va.dhtSet(raw.key, 0, bytesFor(2_000_000 + i))
          rawSeq++
          const expected = rawSeq
          yield* until(rawChanges, (seq) => seq >= expected)
        }),
      (i) =>
        Effect.andThen(
          typed.set(0, noteFor(2_000_000 + i)),
          until(typedChanges, (n) => n === 2_000_000 + i),
        ),
      { count: watchOps, dephase: true },
    ),
  )
  printTable(rows)
})

Effect.runPromise(Effect.scoped(program)).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
