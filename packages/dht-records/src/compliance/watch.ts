// Watching a record: changes by another participant, values newer than the ones held.
import { assert } from "@effect/vitest"
import { Effect, Queue, Stream } from "effect"
import type { WatchEvent } from "../types.ts"
import { type ComplianceIt, changedTo, Doc, newDoc, type Suite } from "./support.ts"

export const watchTests = (it: ComplianceIt, { timeout, nextEvent, nextFrom }: Suite) => {
  it.effect(
    "a watcher hears another participant's change",
    () =>
      Effect.gen(function* () {
        const { b, encryptionKey, record } = yield* newDoc(2)
        yield* record.set(0, "before")
        yield* record.set(1, { text: "marker", n: 0 })
        const opened = yield* b.open(Doc, record.key, { encryptionKey })
        // Subkey 0 is held here, subkey 1 is not: the watch's first reconcile reports
        // only subkey 1, and once it has, the watch is set. With reconciles 10 minutes
        // apart, the change to subkey 0 can then only come through Veilid's watch.
        yield* opened.get(0, { refresh: true })
        const events = yield* Queue.unbounded<WatchEvent<unknown>>()
        yield* opened.watch({ reconcileInterval: "10 minutes" }).pipe(
          Stream.runForEach((event) => Queue.offer(events, event)),
          Effect.forkScoped,
        )
        yield* nextFrom(events, changedTo(1, { text: "marker", n: 0 }))
        yield* record.set(0, "after")
        const event = yield* nextFrom(events, changedTo(0, "after"))
        assert.strictEqual(event._tag, "Changed")
        if (event._tag === "Changed") {
          assert.strictEqual(event.seq, 1)
          assert.strictEqual(event.writer, record.owner)
        }
      }),
    timeout,
  )

  it.effect(
    "a watch reports values newer than the ones held when it starts",
    () =>
      Effect.gen(function* () {
        const { b, encryptionKey, record } = yield* newDoc(2)
        yield* record.set(1, { text: "written before the watch", n: 7 })
        const opened = yield* b.open(Doc, record.key, { encryptionKey })
        const event = yield* nextEvent(
          opened.watch({ subkeys: [1], pollInterval: "1 second" }),
          changedTo(1, { text: "written before the watch", n: 7 }),
        )
        assert.strictEqual(event.subkey, 1)
      }),
    timeout,
  )
}
