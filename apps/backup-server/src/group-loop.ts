// One held group's life on the server: opened (from its stored replicate credentials when
// it was not just added), its blobs served to the members, kept synced as a backup with
// each pass logged, and started again after a delay when it stops. And the names a server
// of an earlier version stored with a group, dropped from the store.
import type { KnownGroup, KnownGroupsStore } from "@save-dweb/backend"
import type { DataReposShape, KeepSyncedOptions, SyncResult } from "@save-dweb/data-repo"
import type { RecordKey } from "@save-dweb/dht-records"
import {
  decodeCredentials,
  encodeCredentials,
  type Group,
  GroupCredentials,
  type GroupsShape,
} from "@save-dweb/group"
import type { TunnelsShape } from "@save-dweb/tunnels"
import { Clock, type Duration, Effect, Option, Schedule, type Scope } from "effect"

/** A group the server holds: its loop runs in `scope`; `last` is its latest pass. */
export interface Held {
  readonly key: RecordKey
  readonly scope: Scope.Closeable
  last: { readonly result: SyncResult; readonly at: number } | undefined
}

export interface GroupLoopDeps {
  readonly groups: GroupsShape
  readonly repos: DataReposShape
  readonly tunnels: TunnelsShape
  /** How each group is kept synced (as the server's backup record); passes are logged. */
  readonly syncOptions: Omit<KeepSyncedOptions, "onResult">
  /** After a group fails to open or its sync stops, it starts again after this. */
  readonly restartDelay: Duration.Input
}

/** Records and logs a pass of `entry`'s sync (at info level when anything moved). */
const onPass = (entry: Held, result: SyncResult) =>
  Effect.gen(function* () {
    const previous = entry.last?.result
    entry.last = { result, at: yield* Clock.currentTimeMillis }
    const moved = [...result.synced].filter(([repo, root]) => previous?.synced.get(repo) !== root)
    const log =
      moved.length > 0 || result.freed.length > 0 || result.failed.size > 0
        ? Effect.logInfo
        : Effect.logDebug
    yield* log("backup-server: pass").pipe(
      Effect.annotateLogs({
        group: entry.key,
        repos: result.synced.size + result.failed.size,
        synced: result.synced.size,
        updated: moved.length,
        freed: result.freed.length,
        failed: [...result.failed].map(([repo, e]) => `${repo}: ${e._tag}`),
      }),
    )
  })

/** Opens the group, serves it and keeps it synced, until `entry.scope` closes. */
export const makeGroupLoop =
  ({ groups, repos, tunnels, syncOptions, restartDelay }: GroupLoopDeps) =>
  (entry: Held, opened: Option.Option<Group>, stored: KnownGroup | undefined) =>
    Effect.gen(function* () {
      let group: Group
      if (Option.isSome(opened)) {
        group = opened.value
      } else {
        if (stored === undefined) return yield* Effect.die(new Error("no credentials"))
        const credentials = yield* Effect.option(decodeCredentials(stored.credentials))
        // Never written by this server: a damaged or tampered entry is not served.
        if (Option.isNone(credentials) || credentials.value.tier !== "replicate") {
          return yield* Effect.logError(
            "backup-server: a stored group's credentials are not replicate credentials; skipped",
          )
        }
        group = yield* groups.open(credentials.value).pipe(
          Effect.tapError((e) =>
            Effect.logWarning("backup-server: cannot open a group; trying again", e),
          ),
          Effect.retry(Schedule.spaced(restartDelay)),
        )
      }
      yield* repos.serve(group, tunnels)
      yield* repos
        .keepSynced(group, { ...syncOptions, onResult: (result) => onPass(entry, result) })
        .pipe(
          Effect.tapError((e) =>
            Effect.logWarning("backup-server: a group's sync stopped; starting it again", e),
          ),
          Effect.retry(Schedule.spaced(restartDelay)),
        )
    }).pipe(Effect.annotateLogs({ group: entry.key }))

/**
 * `entry` without the names a server of an earlier version stored (the group's name, and
 * the name hint of the replicate link it was sent), rewritten so they leave the disk.
 */
export const forgetNames = (known: KnownGroupsStore) => (entry: KnownGroup) =>
  Effect.gen(function* () {
    const credentials = Option.getOrUndefined(
      yield* Effect.option(decodeCredentials(entry.credentials)),
    )
    if (entry.name === undefined && credentials?.name === undefined) return entry
    const scrubbed: KnownGroup = {
      ...entry,
      name: undefined,
      ...(credentials === undefined
        ? {}
        : {
            credentials: encodeCredentials(
              new GroupCredentials({
                group: credentials.group,
                capability: credentials.capability,
              }),
            ),
          }),
    }
    yield* known
      .put(scrubbed)
      .pipe(
        Effect.catch((e) =>
          Effect.logWarning("backup-server: could not drop a stored group's name", e),
        ),
      )
    return scrubbed
  })
