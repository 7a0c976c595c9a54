// A record's changes as a Stream. Veilid's watch (ValueChange updates) is the fast
// path; a reconcile (inspect the network's sequence numbers, fetch what is newer)
// runs at start, every `reconcileInterval` while a watch holds, and every
// `pollInterval` when Veilid cannot keep one (the watch call fails, or the watch
// dies at once). A watch that ends (expired, used up, dropped by its nodes: a
// ValueChange with count 0) is renewed. Every event is deduplicated by sequence
// number, so the paths can overlap freely.
import type { RecordKey, ValueData, VeilidError, VeilidUpdate } from "@save-dweb/veilid"
import { Clock, Duration, Effect, Metric, Option, Queue, Stream } from "effect"
import type { DhtBackend } from "./backend.ts"
import { opaqueKey } from "./codec.ts"
import type { DhtRecordsError, Operation } from "./errors.ts"
import { fromRanges, seqOrUndefined, toRanges } from "./subkeys.ts"
import type { WatchEvent } from "./types.ts"

export interface WatchOptions {
  /** Subkeys to watch (default: every subkey of the record). */
  readonly subkeys?: ReadonlyArray<number>
  /** How often to poll while Veilid cannot keep a watch (default 5 s). */
  readonly pollInterval?: Duration.Input
  /** How often to compare with the network while a watch holds, to catch what it missed (default 60 s). */
  readonly reconcileInterval?: Duration.Input
  /** While polling, how often to try to set a watch again (default 60 s). */
  readonly rewatchInterval?: Duration.Input
}

export const defaultWatchOptions = {
  pollInterval: Duration.seconds(5),
  reconcileInterval: Duration.seconds(60),
  rewatchInterval: Duration.seconds(60),
} as const

export interface WatchContext {
  readonly backend: DhtBackend
  readonly key: RecordKey
  /** Watched subkeys, all within the record. */
  readonly subkeys: ReadonlyArray<number>
  /** A backend call with the service's retries and error mapping. */
  readonly call: <A>(
    operation: Operation,
    effect: Effect.Effect<A, VeilidError>,
  ) => Effect.Effect<A, DhtRecordsError>
  /** Sets (or renews) the participant's Veilid watch so that it covers `ranges`. */
  readonly setWatch: Effect.Effect<boolean, DhtRecordsError>
  /** Removes this stream's subkeys from the participant's Veilid watch. */
  readonly clearWatch: Effect.Effect<void>
  readonly decode: (subkey: number, value: ValueData) => Effect.Effect<WatchEvent<unknown>>
  readonly pollInterval: Duration.Duration
  readonly reconcileInterval: Duration.Duration
  readonly rewatchInterval: Duration.Duration
}

/**
 * How a change reached a watch stream: Veilid's notification, or a look at the network
 * (the stream's first, a later reconcile while a watch holds, a poll while none does).
 */
export type WatchDelivery = "notification" | "start" | "reconcile" | "poll"

/**
 * Changes the watch streams of this process reported, by how they arrived (attribute
 * `via`): the share of `reconcile` and `poll` is what Veilid's notifications missed.
 */
export const watchChanges = Metric.counter("save_dweb_dht_watch_changes", {
  description: "Changes reported by DHT record watch streams, by how they arrived",
  incremental: true,
})

type ValueChange = Extract<VeilidUpdate, { readonly _tag: "ValueChange" }>
type Work = ValueChange | "tick"

export const watchStream = (
  ctx: WatchContext,
): Stream.Stream<WatchEvent<unknown>, DhtRecordsError> =>
  Stream.callback<WatchEvent<unknown>, DhtRecordsError>((out) =>
    Effect.gen(function* () {
      const { backend, key } = ctx
      const opaque = opaqueKey(key)
      const watched = new Set(ctx.subkeys)
      const ranges = toRanges(ctx.subkeys)
      const pollMillis = Duration.toMillis(ctx.pollInterval)
      const reconcileMillis = Duration.toMillis(ctx.reconcileInterval)
      const rewatchMillis = Duration.toMillis(ctx.rewatchInterval)
      const shortLivedMillis = Math.min(pollMillis, 10_000)
      /** Per subkey, the newest sequence number reported (or held here at the start). */
      const reported = new Map<number, number>()
      let mode: "watch" | "poll" = "poll"
      let watchSince = 0
      /** Watches in a row that died soon after being set. */
      let shortLived = 0
      let rewatchAt = 0
      // The first tick reconciles, whatever the clock reads (a test clock starts at 0).
      let lastReconcile = Number.NEGATIVE_INFINITY

      const work = yield* Queue.unbounded<Work>()
      // Subscribe before setting the watch, so no ValueChange after it is missed.
      const updates = yield* backend.subscribe
      yield* updates.pipe(
        Stream.filter(
          (u): u is ValueChange => u._tag === "ValueChange" && opaqueKey(u.key) === opaque,
        ),
        Stream.runForEach((u) => Queue.offer(work, u)),
        Effect.forkScoped,
      )

      const held = yield* ctx.call(
        "inspect",
        backend.dhtInspect(key, { subkeys: ranges, scope: "Local" }),
      )
      fromRanges(held.subkeys).forEach((subkey, i) => {
        const seq = seqOrUndefined(held.localSeqs[i])
        if (seq !== undefined && watched.has(subkey)) reported.set(subkey, seq)
      })

      const setWatch = Effect.gen(function* () {
        const ok = yield* ctx.setWatch.pipe(
          Effect.catchIf(
            (error) => error._tag !== "RecordNotFound",
            (error) =>
              Effect.as(
                Effect.logDebug(`watch of ${opaque} not set, polling: ${error.message}`),
                false,
              ),
          ),
        )
        const now = yield* Clock.currentTimeMillis
        if (ok) {
          mode = "watch"
          watchSince = now
        } else {
          mode = "poll"
          rewatchAt = now + rewatchMillis
        }
      })

      const emit = (subkey: number, value: ValueData, via: WatchDelivery) =>
        Effect.gen(function* () {
          const last = reported.get(subkey)
          if (last !== undefined && value.seq <= last) return
          reported.set(subkey, value.seq)
          yield* Metric.update(Metric.withAttributes(watchChanges, { via }), 1)
          yield* Queue.offer(out, yield* ctx.decode(subkey, value))
        })

      const fetch = (subkey: number, via: WatchDelivery) =>
        ctx.call("get", backend.dhtGet(key, subkey, { forceRefresh: true })).pipe(
          Effect.flatMap(
            Option.match({
              onNone: () => Effect.void,
              onSome: (value) => emit(subkey, value, via),
            }),
          ),
        )

      const reconcile = Effect.gen(function* () {
        const via: WatchDelivery =
          lastReconcile === Number.NEGATIVE_INFINITY
            ? "start"
            : mode === "poll"
              ? "poll"
              : "reconcile"
        lastReconcile = yield* Clock.currentTimeMillis
        const report = yield* ctx.call(
          "inspect",
          backend.dhtInspect(key, { subkeys: ranges, scope: "SyncGet" }),
        )
        const subkeys = fromRanges(report.subkeys)
        for (const [i, subkey] of subkeys.entries()) {
          if (!watched.has(subkey)) continue
          const network = seqOrUndefined(report.networkSeqs[i])
          const local = seqOrUndefined(report.localSeqs[i])
          const newest = Math.max(network ?? -1, local ?? -1)
          const last = reported.get(subkey)
          if (newest >= 0 && (last === undefined || newest > last)) yield* fetch(subkey, via)
        }
      })

      const onValueChange = (change: ValueChange) =>
        Effect.gen(function* () {
          const subkeys = fromRanges(change.subkeys).filter((s) => watched.has(s))
          const [only] = subkeys
          if (change.value !== undefined && subkeys.length === 1 && only !== undefined) {
            yield* emit(only, change.value, "notification")
          } else {
            for (const subkey of subkeys) yield* fetch(subkey, "notification")
          }
          if (change.count > 0) {
            mode = "watch"
            return
          }
          // The watch ended (expired, used up, given up by its nodes): renew it. When
          // renewed watches keep dying soon after being set, no node keeps them: poll,
          // and try again after `rewatchInterval`.
          const now = yield* Clock.currentTimeMillis
          shortLived = mode === "watch" && now - watchSince < shortLivedMillis ? shortLived + 1 : 0
          if (shortLived >= 2) {
            mode = "poll"
            rewatchAt = now + rewatchMillis
          } else if (mode === "watch") {
            yield* setWatch
          }
          yield* reconcile
        })

      const onTick = Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        if (mode === "poll" && now >= rewatchAt) yield* setWatch
        if (mode === "poll" || now - lastReconcile >= reconcileMillis) yield* reconcile
      })

      const process = (item: Work) =>
        (item === "tick" ? onTick : onValueChange(item)).pipe(
          Effect.catch((error) =>
            error._tag === "RecordNotFound"
              ? Effect.asVoid(Queue.fail(out, error))
              : Effect.logWarning(`watch of ${opaque}: ${error.message}`),
          ),
        )

      yield* Effect.addFinalizer(() => ctx.clearWatch)
      yield* setWatch
      yield* Queue.offer(work, "tick")
      yield* Effect.forkScoped(
        Effect.forever(Effect.andThen(Effect.sleep(ctx.pollInterval), Queue.offer(work, "tick"))),
      )
      yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(work), process)))
    }),
  )
