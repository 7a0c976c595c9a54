import { assert, describe, it } from "@effect/vitest"
import { SecretKey } from "@save-dweb/crypto"
import { Effect, Exit, Option, Schema } from "effect"
import {
  CONFLICT_RETRIES,
  defineRecord,
  MemoryDhtNetwork,
  makeMemoryDhtRecords,
  RecordConflict,
  RecordTimeout,
  retryOnConflict,
} from "../src/index.ts"

const Counter = defineRecord("counter", { 0: Schema.Number })

/** An effect that fails with `errors` in turn, then succeeds; counts its runs. */
const failing = (errors: ReadonlyArray<RecordConflict | RecordTimeout>) => {
  let runs = 0
  const effect = Effect.suspend(() => {
    const error = errors[runs++]
    return error === undefined ? Effect.succeed("done") : Effect.fail(error)
  })
  return { effect, runs: () => runs }
}

const conflict = () =>
  new RecordConflict({
    key: "VLD0:x",
    subkey: 0,
    current: { subkey: 0, seq: 1, writer: "w", value: 1 },
    message: "newer value",
  })
const timeout = () =>
  new RecordTimeout({
    key: "VLD0:x",
    operation: "set",
    reason: "Timeout",
    attempts: 7,
    message: "timed out",
  })

describe("retryOnConflict", () => {
  it.effect("runs again after each conflict, up to CONFLICT_RETRIES times", () =>
    Effect.gen(function* () {
      const ok = failing(Array.from({ length: CONFLICT_RETRIES }, conflict))
      assert.strictEqual(yield* retryOnConflict(ok.effect), "done")
      assert.strictEqual(ok.runs(), CONFLICT_RETRIES + 1)

      const tooMany = failing(Array.from({ length: CONFLICT_RETRIES + 1 }, conflict))
      const exit = yield* Effect.exit(tooMany.effect.pipe(retryOnConflict))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(tooMany.runs(), CONFLICT_RETRIES + 1)
    }),
  )

  it.effect("takes another number of tries", () =>
    Effect.gen(function* () {
      const ok = failing(Array.from({ length: 5 }, conflict))
      assert.strictEqual(yield* retryOnConflict(ok.effect, { times: 5 }), "done")
      assert.strictEqual(ok.runs(), 6)
    }),
  )

  it.effect("fails at once with any other error", () =>
    Effect.gen(function* () {
      const other = failing([timeout(), conflict()])
      const exit = yield* Effect.exit(retryOnConflict(other.effect))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(other.runs(), 1)
    }),
  )

  it.effect("a read-modify-write from a stale copy lands above the other writer's value", () =>
    Effect.gen(function* () {
      const network = yield* MemoryDhtNetwork.make()
      const a = yield* makeMemoryDhtRecords(network)
      const b = yield* makeMemoryDhtRecords(network)
      const encryptionKey = yield* SecretKey.generate
      const mine = yield* a.create(Counter, { schema: { kind: "DFLT", subkeys: 1 }, encryptionKey })
      yield* mine.set(0, 0)
      const theirs = yield* b.open(Counter, mine.key, {
        encryptionKey,
        writer: Option.getOrThrow(mine.ownerKeyPair),
      })
      yield* theirs.get(0)
      yield* mine.set(0, 1)
      // b's local copy still says 0: the first set loses, the conflict brings 1 here.
      const increment = theirs
        .get(0)
        .pipe(
          Effect.flatMap((entry) =>
            theirs.set(0, Option.match(entry, { onNone: () => 0, onSome: (e) => e.value }) + 1),
          ),
        )
      yield* retryOnConflict(increment)
      assert.strictEqual(Option.getOrThrow(yield* mine.get(0, { refresh: true })).value, 2)
    }).pipe(Effect.scoped),
  )
})
