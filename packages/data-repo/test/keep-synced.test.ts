// keepSynced's fallback poll and kept watches, on the memory layers and a test clock.
import { assert, describe, it } from "@effect/vitest"
import { MemoryDhtNetwork } from "@save-dweb/dht-records"
import { Clock, Duration, Effect, Stream } from "effect"
import { TestClock } from "effect/testing"
import { nextPollInterval } from "../src/keep-synced.ts"
import { participant, pattern } from "./support.ts"

const setup = Effect.gen(function* () {
  const net = yield* MemoryDhtNetwork.make()
  const alice = yield* participant(net)
  const group = yield* alice.groups.create("g", { memberName: "Alice", sourcePolicy: "any" })
  const repo = yield* alice.repos.create(group, { name: "Alice" })
  yield* repo.write("first", Stream.make(pattern(1_000, 1)))
  const bob = yield* participant(net)
  const bobGroup = yield* bob.groups.join(yield* group.invite("write"), { memberName: "Bob" })
  const aliceSource = yield* alice.store.source()
  return { net, repo, bob, bobGroup, aliceSource }
})

/** Moves the test clock forward in small steps, so each woken fiber runs in between. */
const advance = (total: Duration.Input) =>
  Effect.gen(function* () {
    const steps = Duration.toMillis(Duration.fromInputUnsafe(total)) / 50
    for (let i = 0; i < steps; i++) yield* TestClock.adjust("50 millis")
  })

const gaps = (times: ReadonlyArray<number>) => times.slice(1).map((t, i) => t - (times[i] ?? 0))

describe("nextPollInterval", () => {
  const bounds = { fastest: 2_000, slowest: 60_000 }
  it("is the fastest while active, doubles while quiet, and stops at the slowest", () => {
    let poll = bounds.fastest
    const seen: Array<number> = []
    for (let i = 0; i < 7; i++) {
      poll = nextPollInterval(poll, false, bounds)
      seen.push(poll)
    }
    assert.deepStrictEqual(seen, [4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000])
    assert.strictEqual(nextPollInterval(60_000, true, bounds), 2_000)
  })
})

describe("keepSynced poll", () => {
  it.effect("while quiet, passes come ever further apart up to the slowest poll", () =>
    Effect.gen(function* () {
      const { bob, bobGroup, aliceSource } = yield* setup
      const passes: Array<number> = []
      yield* bob.repos
        .keepSynced(bobGroup, {
          ownerSources: () => [aliceSource],
          minInterval: "10 millis",
          settle: "1 second",
          poll: { fastest: "1 second", slowest: "8 seconds" },
          onResult: () => Effect.map(Clock.currentTimeMillis, (t) => void passes.push(t)),
        })
        .pipe(Effect.forkScoped)
      yield* advance("60 seconds")
      // The first passes copy Alice's repo and follow the watches' first look (woken at
      // once); then nothing changes: 1, 2, 4, 8, 8… seconds apart.
      const quiet = gaps(passes).filter((gap) => gap >= 1_000)
      assert.deepStrictEqual(quiet.slice(0, 4), [1_000, 2_000, 4_000, 8_000])
      assert.isTrue(quiet.slice(3).every((gap) => gap === 8_000))
      assert.isBelow(passes.length, 16)
    }).pipe(Effect.scoped),
  )

  it.effect("a change wakes a pass at once, and the poll is fast again after it", () =>
    Effect.gen(function* () {
      const { repo, bob, bobGroup, aliceSource } = yield* setup
      const passes: Array<number> = []
      yield* bob.repos
        .keepSynced(bobGroup, {
          ownerSources: () => [aliceSource],
          minInterval: "10 millis",
          settle: "1 second",
          poll: { fastest: "1 second", slowest: "8 seconds" },
          onResult: () => Effect.map(Clock.currentTimeMillis, (t) => void passes.push(t)),
        })
        .pipe(Effect.forkScoped)
      yield* advance("40 seconds")
      const before = passes.length
      const writtenAt = yield* Clock.currentTimeMillis
      const second = yield* repo.write("second", Stream.make(pattern(1_000, 2)))
      yield* advance("500 millis")
      // The watch (kept since the first pass) woke a pass well before the 8 s poll.
      assert.isAbove(passes.length, before)
      assert.isAtMost((passes[before] ?? Infinity) - writtenAt, 100)
      assert.isTrue(yield* bob.store.has(second.hash))
      // Active again: the following passes are the settle and fast polls, not 8 s apart.
      yield* advance("4 seconds")
      const after = passes.filter((t) => t > writtenAt)
      assert.isAtLeast(after.length, 3)
    }).pipe(Effect.scoped),
  )

  it.effect("`poll: false` runs passes only on changes", () =>
    Effect.gen(function* () {
      const { bob, bobGroup, aliceSource } = yield* setup
      const passes: Array<number> = []
      yield* bob.repos
        .keepSynced(bobGroup, {
          ownerSources: () => [aliceSource],
          minInterval: "10 millis",
          settle: "1 second",
          poll: false,
          onResult: () => Effect.map(Clock.currentTimeMillis, (t) => void passes.push(t)),
        })
        .pipe(Effect.forkScoped)
      yield* advance("10 seconds")
      const settled = passes.length
      yield* advance("120 seconds")
      // dht-records' own 60 s reconcile finds nothing new: no pass.
      assert.strictEqual(passes.length, settled)
    }).pipe(Effect.scoped),
  )
})
