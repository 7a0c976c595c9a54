// Write → seen latency between two members on a private Veilid testnet with an emulated
// round trip (default 50 ms: 25 ms one way on every node):
//   pnpm --filter @save-dweb/backend bench:watch [-- --changes 100 --delay 25]
// Member A writes a small file into its repo; member B (autoSync, as the daemon runs it)
// reports it (`FilesChanged`, not its own) once its copy holds A's new collection. Each
// change is timed from A's `writeFile` returning (published) to B's event, then the next
// comes after a random pause of 0.2–2 s. Prints one table and how each change reached B
// (a watch notification or a poll); asserts nothing about time.
import { mkdtemp, rm } from "node:fs/promises"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { type WatchDelivery, watchChanges } from "@save-dweb/dht-records"
import { startTestnet } from "@save-dweb/veilid-testnet"
import {
  Cause,
  Duration,
  Effect,
  Exit,
  Fiber,
  Metric,
  Option,
  Queue,
  Schedule,
  Scope,
  Stream,
} from "effect"
import { type BackendEvent, makeBackend, makeNode } from "../src/index.ts"

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: {
    changes: { type: "string", default: "100" },
    delay: { type: "string", default: "25" },
    timeout: { type: "string", default: "120" },
  },
})
const changes = Math.max(1, Number(values.changes))
const delayMs = Number(values.delay)
const timeoutMs = Number(values.timeout) * 1000

const delivered = (via: WatchDelivery) =>
  Effect.map(Metric.value(Metric.withAttributes(watchChanges, { via })), (state) => state.count)
const deliveries = Effect.all({
  notification: delivered("notification"),
  start: delivered("start"),
  reconcile: delivered("reconcile"),
  poll: delivered("poll"),
})

const testnet = await startTestnet({ readyTimeoutMs: 180_000, network: { delayMs } })
const dirs: Array<string> = []

const program = Effect.gen(function* () {
  const start = (name: string) =>
    Effect.gen(function* () {
      const storageDir = yield* Effect.promise(() => mkdtemp(join(tmpdir(), "sdw-watch-bench-")))
      dirs.push(storageDir)
      const node = yield* makeNode({
        storageDir,
        network: { veilidConfig: testnet.nodeConfig(name) },
        veilid: { readyTimeout: "180 seconds" },
        iroh: { ipv4Addr: "127.0.0.1:0", ipv6Addr: "[::1]:0", fetchTimeoutMillis: 20_000 },
      })
      // As the daemon runs it (`syncIntervalSeconds` 1).
      return yield* makeBackend({ storageDir, ...node, autoSync: { minInterval: "1 second" } })
    })
  const [a, b] = yield* Effect.all([start("writer"), start("watcher")], {
    concurrency: "unbounded",
  })
  const created = yield* a.createGroup("Latency", { memberName: "A" })
  const link = yield* a.invite(created.key, "write")
  const joined = yield* b
    .joinGroup(link, { memberName: "B" })
    .pipe(Effect.retry({ times: 30, schedule: Schedule.spaced("2 seconds") }))
  const repoA = Option.getOrThrow(created.repo).key
  const seen = yield* Queue.unbounded<{ readonly root: string | null; readonly at: number }>()
  /** When B's pass started fetching each root of A's repo (its pointer read, sources found). */
  const fetchStarted = new Map<string, number>()
  const events = yield* b.subscribe
  yield* events.pipe(
    Stream.tap((e) =>
      Effect.sync(() => {
        if (e._tag === "SyncStarted" && e.repo === repoA)
          fetchStarted.set(e.root, performance.now())
      }),
    ),
    Stream.filter(
      (e: BackendEvent): e is Extract<BackendEvent, { _tag: "FilesChanged" }> =>
        e._tag === "FilesChanged" && !e.mine && e.group === joined.key && e.repo === repoA,
    ),
    Stream.runForEach((e) => Queue.offer(seen, { root: e.root, at: performance.now() })),
    Effect.forkScoped,
  )
  const ownRoots = yield* a.subscribe
  const rootsA = yield* Queue.unbounded<string | null>()
  yield* ownRoots.pipe(
    Stream.runForEach((e) =>
      e._tag === "FilesChanged" && e.mine && e.repo === repoA
        ? Queue.offer(rootsA, e.root)
        : Effect.void,
    ),
    Effect.forkScoped,
  )

  const latencies: Array<number> = []
  const writes: Array<number> = []
  const toFetch: Array<number> = []
  const fetching: Array<number> = []
  let missed = 0
  const before = yield* deliveries
  for (let i = 0; i < changes; i++) {
    const t0 = performance.now()
    yield* a.writeFile(
      created.key,
      `change-${i}.txt`,
      Stream.make(new TextEncoder().encode(`change ${i} ${t0}`)),
    )
    const published = performance.now()
    writes.push(published - t0)
    const root = yield* Queue.take(rootsA)
    const arrived = yield* Queue.take(seen).pipe(
      Effect.repeat({ until: (s) => s.root === root }),
      Effect.timeoutOption(Duration.millis(timeoutMs)),
    )
    if (Option.isNone(arrived)) {
      missed++
      latencies.push(timeoutMs)
    } else {
      latencies.push(arrived.value.at - published)
      const started = root === null ? undefined : fetchStarted.get(root)
      if (started !== undefined) {
        toFetch.push(started - published)
        fetching.push(arrived.value.at - started)
      }
    }
    yield* Effect.sleep(Duration.millis(200 + Math.random() * 1800))
  }
  const after = yield* deliveries
  return { latencies, writes, toFetch, fetching, missed, before, after }
})

const scope = Effect.runSync(Scope.make())
const fiber = Effect.runFork(Scope.provide(scope)(program))
const exit = await Effect.runPromise(Fiber.await(fiber))
await Effect.runPromise(Scope.close(scope, Exit.void))
await testnet.stop()
await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
if (Exit.isFailure(exit)) {
  console.error(Cause.pretty(exit.cause))
  process.exit(1)
}
const { latencies, writes, toFetch, fetching, missed, before, after } = exit.value

const quantile = (xs: ReadonlyArray<number>, q: number) => {
  const s = [...xs].sort((x, y) => x - y)
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? 0
}
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`
const within = latencies.filter((ms) => ms < 3000).length
console.log(
  `\nwrite → seen by another member, ${changes} changes, ${2 * delayMs} ms round trip (load ${loadavg()[0]?.toFixed(1)})\n`,
)
console.log("| measure                     | p50     | p95     | max     |")
console.log("| --------------------------- | ------- | ------- | ------- |")
console.log(
  `| write (publish) at A        | ${sec(quantile(writes, 0.5))} | ${sec(quantile(writes, 0.95))} | ${sec(Math.max(...writes))} |`,
)
console.log(
  `| published → seen at B       | ${sec(quantile(latencies, 0.5))} | ${sec(quantile(latencies, 0.95))} | ${sec(Math.max(...latencies))} |`,
)
const row = (label: string, xs: ReadonlyArray<number>) =>
  console.log(
    `| ${label.padEnd(27)} | ${sec(quantile(xs, 0.5))} | ${sec(quantile(xs, 0.95))} | ${sec(Math.max(...xs))} |`,
  )
row("  published → B fetches", toFetch)
row("  B fetches → seen", fetching)
console.log(
  `\nseen within 3 s: ${within}/${changes}; not seen within ${timeoutMs / 1000} s: ${missed}`,
)
console.log(
  `changes delivered to B's watch streams (both members' records, this process): notification ${after.notification - before.notification}, a stream's first look ${after.start - before.start}, reconcile ${after.reconcile - before.reconcile}, poll ${after.poll - before.poll}`,
)
