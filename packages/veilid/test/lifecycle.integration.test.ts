// Starting and stopping real nodes leaves nothing running: no node threads in this
// process, no testnet host process, and a second testnet starts right after the first.
// Runs in its own vitest worker process (pool "forks"), so the threads counted are ours.
import { existsSync } from "node:fs"
import { availableParallelism } from "node:os"
import { describe, expect, it } from "@effect/vitest"
import { withTestnet } from "@save-dweb/veilid-testnet"
import { Effect, Stream } from "effect"
import { decodeConfig, makeVeilid } from "../src/index.ts"
import {
  childProcesses,
  eventually,
  processThreads,
  randomBytes,
  text,
  threadCensus,
  untilSuccess,
} from "./support.ts"

/**
 * Threads that, once started, belong to the process rather than to a node: napi-rs's
 * tokio runtime (one worker per core) and veilid-tools' CPU pool (`veilid-cpu-N`, one per
 * core). A node's own threads (`veilid-watchdog`, tokio blocking threads) must go away.
 */
const processWideThreads = 2 * availableParallelism()

/** Tokio's blocking threads idle out after 10 s; allow that, then some. */
const settleDeadline = "40 seconds"

/**
 * One testnet and two attached nodes doing DHT and app_call work, all stopped at the end.
 * Returns the pid of the testnet's host process and the thread count while running.
 */
const cycle = Effect.scoped(
  Effect.gen(function* () {
    const testnet = yield* withTestnet()
    const node = (name: string) =>
      Effect.flatMap(decodeConfig(testnet.nodeConfig(name)), (config) =>
        makeVeilid(config, { readyTimeout: "90 seconds" }),
      )
    const [a, b] = yield* Effect.all([node("a"), node("b")], { concurrency: 2 })
    expect(childProcesses()).toContain(testnet.hostPid)

    const record = yield* a.dhtCreate({ kind: "DFLT", oCnt: 1 })
    yield* untilSuccess("set", a.dhtSet(record.key, 0, text("work")))
    yield* b.dhtOpen(record.key)
    yield* eventually(
      "B reads A's value",
      b.dhtGet(record.key, 0, { forceRefresh: true }),
      (v) => v._tag === "Some",
    )
    const calls = yield* b.subscribe
    yield* calls.pipe(
      Stream.runForEach((u) =>
        u._tag === "AppCall" ? b.appCallReply(u.callId, u.message) : Effect.void,
      ),
      Effect.forkScoped,
    )
    const route = yield* untilSuccess("B's private route", b.privateRoute())
    const target = yield* a.importRemotePrivateRoute(route.blob)
    const message = randomBytes(32_768)
    expect(yield* untilSuccess("app_call", a.appCall(target, message))).toEqual(message)
    const during = processThreads()
    // Each attached node runs a watchdog thread of its own: the count below means something.
    expect(during.filter((name) => name === "veilid-watchdog")).toHaveLength(2)
    return { hostPid: testnet.hostPid, threads: during.length }
  }),
)

/** Waits until this process has at most `max` threads; fails with their names if not. */
const threadsSettleTo = (max: number) =>
  eventually(
    `at most ${max} threads`,
    Effect.sync(() => processThreads()),
    (names) => names.length <= max,
    settleDeadline,
  ).pipe(
    Effect.tapError(() =>
      Effect.sync(() => console.error("threads left:", threadCensus(processThreads()))),
    ),
  )

const nodeThreads = ["veilid-watchdog", "veilid-api-log"]

describe("starting and stopping nodes", () => {
  it.live(
    "leaves no node threads or host process behind, and a second testnet starts right after",
    () =>
      Effect.gen(function* () {
        const baseline = processThreads()
        const children = childProcesses()
        // Tight once both process-wide pools run: each holds exactly one thread per core.
        const steady = baseline.length + processWideThreads

        const first = yield* cycle
        expect(first.threads).toBeGreaterThan(baseline.length + processWideThreads)
        expect(existsSync(`/proc/${first.hostPid}`)).toBe(false)
        expect(childProcesses()).toEqual(children)
        const afterFirst = yield* threadsSettleTo(steady)
        expect(afterFirst.filter((name) => nodeThreads.includes(name))).toEqual([])

        // Right after: a second testnet and nodes of the same names start and work.
        const second = yield* cycle
        expect(second.hostPid).not.toBe(first.hostPid)
        expect(existsSync(`/proc/${second.hostPid}`)).toBe(false)
        expect(childProcesses()).toEqual(children)
        // Back to the same bound: nothing accumulates from one cycle to the next.
        const afterSecond = yield* threadsSettleTo(steady)
        expect(afterSecond.filter((name) => nodeThreads.includes(name))).toEqual([])
        console.log(
          `threads: ${baseline.length} before, ${first.threads} and ${second.threads} while running, ` +
            `${afterFirst.length} and ${afterSecond.length} after stopping`,
        )
      }),
    300_000,
  )
})
