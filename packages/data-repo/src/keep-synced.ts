// Replication kept up: `syncAll` again whenever the membership or another member's repo
// record changes, on a backoff timer while repos fail, and on a fallback poll that is
// fast while the group is active and slows down while it is quiet.
//
// The watches are set once and kept across passes (set again only when the membership
// changes): a watch torn down after each change and set again after the pass left a gap
// of the pass plus Veilid's watch set-up (its outbound watches are sent by a 1 s tick),
// and a write in that gap was seen only at dht-records' 60 s reconcile.
import type { BlobHash } from "@save-dweb/blob-store"
import type { DhtRecordsShape, RecordKey } from "@save-dweb/dht-records"
import type { Group } from "@save-dweb/group"
import { Clock, Duration, Effect, Queue, Stream } from "effect"
import type { DataRepoError } from "./errors.ts"
import { INFO_SUBKEY, POINTER_SUBKEY, RepoRecord, ROUTE_SUBKEY } from "./record.ts"
import type { Sync, SyncOptions, SyncResult } from "./sync.ts"

export interface KeepSyncedOptions extends SyncOptions {
  readonly onResult?: (result: SyncResult) => Effect.Effect<void>
  /** Passes start at least this long after the previous one ended (default 1 s). */
  readonly minInterval?: Duration.Input
  /** After a pass with failures, the next comes after this at the latest (default 1 s)… */
  readonly retryInitial?: Duration.Input
  /** …doubling after each failing pass up to this (default 1 min); a clean pass resets it. */
  readonly retryMax?: Duration.Input
  /**
   * After a pass that copied something new, the next one comes after this at the latest
   * (default 2 s), change or not: the last of a burst of writes is not left to the watch.
   */
  readonly settle?: Duration.Input
  /**
   * The fallback poll, for the watch notifications Veilid does not deliver: a pass this
   * long after the previous one, change or not. `fastest` (default 2 s) after a pass that
   * a change started or that copied something; doubling after each quiet pass up to
   * `slowest` (default 1 min). `false`: passes only on changes and retries.
   */
  readonly poll?: false | { readonly fastest?: Duration.Input; readonly slowest?: Duration.Input }
}

/** The next fallback poll interval: `fastest` while active, doubling while quiet, bounded. */
export const nextPollInterval = (
  current: number,
  active: boolean,
  bounds: { readonly fastest: number; readonly slowest: number },
): number => (active ? bounds.fastest : Math.min(bounds.slowest, Math.max(current, 1) * 2))

/**
 * Offers to `changed` on every change of the membership or of another member's repo
 * record, until interrupted. The repo records' watches stay set across passes; a
 * membership change (repos joined or left) sets them again for the new set of repos.
 */
const watchGroup = (
  records: DhtRecordsShape,
  group: Group,
  changed: Queue.Queue<void>,
  retry: Duration.Duration,
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const pointers = (yield* group.repos).filter((p) => p.slot !== group.slot)
      const opened = yield* Effect.forEach(pointers, (p) =>
        records.open(RepoRecord, p.repoKey, { encryptionKey: group.keys.dhtValues }),
      )
      yield* Stream.mergeAll(
        [
          // The first element is the membership now, not a change.
          Stream.drop(group.watchMembers(), 1).pipe(Stream.as("members" as const)),
          ...opened.map((r) =>
            r
              // Subkey 0 too: the backups it lists (sources; what a backup may copy).
              .watch({ subkeys: [INFO_SUBKEY, POINTER_SUBKEY, ROUTE_SUBKEY, ROUTE_SUBKEY + 1] })
              .pipe(Stream.as("repo" as const)),
          ),
        ],
        { concurrency: "unbounded" },
      ).pipe(
        Stream.tap(() => Queue.offer(changed, undefined)),
        // A membership change may add or remove repos: watch the new set.
        Stream.takeUntil((change) => change === "members"),
        Stream.runDrain,
      )
    }),
  ).pipe(
    // A watch that fails (DHT timeout) is a reason to look again, not to stop.
    Effect.catch((e) =>
      Effect.logWarning("data-repo: keepSynced could not watch the group", e).pipe(
        Effect.andThen(Queue.offer(changed, undefined)),
        Effect.andThen(Effect.sleep(retry)),
      ),
    ),
    Effect.forever,
  )

/** `keepSynced` over `syncAll`: runs until interrupted. */
export const makeKeepSynced = (records: DhtRecordsShape, syncAll: Sync["syncAll"]) =>
  Effect.fn("DataRepos.keepSynced")(function* (group: Group, options: KeepSyncedOptions) {
    const millis = (input: Duration.Input | undefined, fallback: Duration.Input) =>
      Duration.toMillis(Duration.fromInputUnsafe(input ?? fallback))
    const spacing = millis(options.minInterval, "1 second")
    const initial = millis(options.retryInitial, "1 second")
    const max = millis(options.retryMax, "1 minute")
    const settle = millis(options.settle, "2 seconds")
    const bounds =
      options.poll === false
        ? undefined
        : {
            fastest: millis(options.poll?.fastest, "2 seconds"),
            slowest: millis(options.poll?.slowest, "1 minute"),
          }
    let retry = initial
    let poll = bounds?.fastest ?? 0
    let previous: ReadonlyMap<RecordKey, BlobHash> = new Map()
    // One pending change is enough: the next pass reads everything anew.
    const changed = yield* Queue.sliding<void>(1)
    yield* Effect.forkChild(watchGroup(records, group, changed, Duration.millis(initial)))
    const sleep = (ms: number) => Effect.as(Effect.sleep(Duration.millis(ms)), "timer" as const)
    while (true) {
      // A change from now on is one this pass may not have seen: it starts another.
      yield* Queue.clear(changed)
      const result = yield* syncAll(group, options)
      if (options.onResult !== undefined) yield* options.onResult(result)
      const ended = yield* Clock.currentTimeMillis
      const moved = [...result.synced].some(([repo, root]) => previous.get(repo) !== root)
      previous = result.synced
      const timers: Array<number> = []
      if (bounds !== undefined) timers.push(poll)
      // Failed repos are retried without waiting for a change, backing off.
      if (result.failed.size > 0) timers.push(retry)
      // Writes often come in bursts (write, then delete): one more pass shortly after a
      // pass that moved catches the last one even if its notification is late or lost.
      else if (moved) timers.push(settle)
      const change = Effect.as(Queue.take(changed), "change" as const)
      const woke =
        timers.length === 0
          ? yield* change
          : yield* Effect.raceFirst(change, sleep(Math.min(...timers)))
      retry = result.failed.size > 0 ? Math.min(max, retry * 2) : initial
      if (bounds !== undefined) poll = nextPollInterval(poll, moved || woke === "change", bounds)
      // Passes at least `minInterval` apart: a burst of changes makes one pass, not many.
      const waited = (yield* Clock.currentTimeMillis) - ended
      if (waited < spacing) yield* Effect.sleep(spacing - waited)
    }
  }) as (group: Group, options: KeepSyncedOptions) => Effect.Effect<never, DataRepoError>
