// Replication kept up: `syncAll` again whenever the membership or another member's repo
// record changes, and on a backoff timer while repos fail.
import type { BlobHash } from "@save-dweb/blob-store"
import type { DhtRecordsShape, RecordKey } from "@save-dweb/dht-records"
import type { Group } from "@save-dweb/group"
import { Clock, Duration, Effect, Stream } from "effect"
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
   * The longest wait between passes, change or not (default: none, only changes and
   * retries start a pass). Bounds how stale a copy gets when a watch notification is lost.
   */
  readonly maxIdle?: Duration.Input
}

/** Waits for the next change of the membership or of another member's repo record. */
const nextChange = (records: DhtRecordsShape, group: Group) =>
  Effect.scoped(
    Effect.gen(function* () {
      const pointers = (yield* group.repos).filter((p) => p.slot !== group.slot)
      const opened = yield* Effect.forEach(pointers, (p) =>
        records.open(RepoRecord, p.repoKey, { encryptionKey: group.keys.dhtValues }),
      )
      const changes = Stream.mergeAll(
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
      )
      yield* Stream.runHead(changes)
    }),
  )

/** `keepSynced` over `syncAll`: runs until interrupted. */
export const makeKeepSynced = (records: DhtRecordsShape, syncAll: Sync["syncAll"]) =>
  Effect.fn("DataRepos.keepSynced")(function* (group: Group, options: KeepSyncedOptions) {
    const spacing = Duration.toMillis(Duration.fromInputUnsafe(options.minInterval ?? "1 second"))
    const initial = Duration.toMillis(Duration.fromInputUnsafe(options.retryInitial ?? "1 second"))
    const max = Duration.toMillis(Duration.fromInputUnsafe(options.retryMax ?? "1 minute"))
    const settle = Duration.toMillis(Duration.fromInputUnsafe(options.settle ?? "2 seconds"))
    const maxIdle =
      options.maxIdle === undefined
        ? undefined
        : Duration.toMillis(Duration.fromInputUnsafe(options.maxIdle))
    let retry = initial
    let previous: ReadonlyMap<RecordKey, BlobHash> = new Map()
    while (true) {
      const result = yield* syncAll(group, options)
      if (options.onResult !== undefined) yield* options.onResult(result)
      const ended = yield* Clock.currentTimeMillis
      const moved = [...result.synced].some(([repo, root]) => previous.get(repo) !== root)
      previous = result.synced
      const watched = nextChange(records, group).pipe(
        // A watch that fails (DHT timeout) is a reason to look again, not to stop.
        Effect.catch((e) =>
          Effect.andThen(
            Effect.logWarning("data-repo: keepSynced could not watch the group", e),
            Effect.sleep(retry),
          ),
        ),
      )
      // A notification Veilid does not deliver would otherwise wait for the watch's reconcile.
      const change =
        maxIdle === undefined ? watched : Effect.raceFirst(watched, Effect.sleep(maxIdle))
      if (result.failed.size > 0) {
        // Failed repos are retried without waiting for a change, backing off.
        yield* Effect.raceFirst(change, Effect.sleep(retry))
        retry = Math.min(max, retry * 2)
      } else if (moved) {
        // Writes often come in bursts (write, then delete): a watch set up after the pass
        // may start from a node that has not seen the last one yet, and would wait for its
        // next reconcile. One more pass shortly after a pass that moved catches it.
        yield* Effect.raceFirst(change, Effect.sleep(settle))
        retry = initial
      } else {
        yield* change
        retry = initial
      }
      // Passes at least `minInterval` apart: a burst of changes makes one pass, not many.
      const waited = (yield* Clock.currentTimeMillis) - ended
      if (waited < spacing) yield* Effect.sleep(spacing - waited)
    }
  }) as (group: Group, options: KeepSyncedOptions) => Effect.Effect<never, DataRepoError>
