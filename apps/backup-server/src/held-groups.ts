// The groups the server holds: each with a scope of its own (forked from the server's)
// where its loop runs. Adding and removing take one lock, so they never interleave. At
// start, blobs no held group references are swept, then each stored group's loop starts.
import type { HeldGroup, KnownGroup, KnownGroupsStore } from "@save-dweb/backend"
import type { DataReposShape } from "@save-dweb/data-repo"
import type { RecordKey } from "@save-dweb/dht-records"
import { encodeCredentials, type Group, type GroupsShape } from "@save-dweb/group"
import { parseGroupInvite } from "@save-dweb/uri-scheme"
import { Cause, Effect, Exit, Option, Scope, Semaphore } from "effect"
import { forgetNames, type Held, type makeGroupLoop } from "./group-loop.ts"
import { type Rejected, reject } from "./requests.ts"

export interface HeldGroupsDeps {
  readonly groups: GroupsShape
  readonly repos: DataReposShape
  /** The groups held, with their replicate credentials (backend's store). */
  readonly known: KnownGroupsStore
  /** A held group's loop (`makeGroupLoop`), run in the group's scope. */
  readonly run: ReturnType<typeof makeGroupLoop>
  /** Most groups held at once; more are refused with `TooManyGroups`. */
  readonly maxGroups: number
}

export interface HeldGroups {
  readonly list: Effect.Effect<ReadonlyArray<HeldGroup>>
  /** Holds the group of a replicate link (what a request `Add` does). */
  readonly add: (link: string) => Effect.Effect<{ key: RecordKey; already: boolean }, Rejected>
  /** Stops holding a group and frees its blobs (what a request `Remove` does). */
  readonly remove: (
    groupKey: RecordKey,
  ) => Effect.Effect<{ readonly held: boolean; readonly freed: number }, Rejected>
}

/**
 * The held groups in the current scope (each group's scope is forked from it): sweeps the
 * blobs no stored group references, then starts each stored group's loop.
 */
export const makeHeldGroups = ({ groups, repos, known, run, maxGroups }: HeldGroupsDeps) =>
  Effect.gen(function* () {
    const serverScope = yield* Effect.scope
    const lock = yield* Semaphore.make(1)
    const held = new Map<RecordKey, Held>()

    /** Runs the group's loop in `scope` (its own) from now on. */
    const start = (
      key: RecordKey,
      scope: Scope.Closeable,
      opened: Option.Option<Group>,
      stored: KnownGroup,
    ) => {
      const entry: Held = { key, scope, last: undefined }
      held.set(key, entry)
      return Effect.forkIn(Scope.provide(scope)(run(entry, opened, stored)), scope)
    }

    // ---- Start: sweep what no held group references, then run the stored groups.
    const stored = yield* known.all
    for (const entry of stored) {
      if (entry.tier !== "replicate") {
        // Never written by this server; a tampered store is not served.
        yield* Effect.logError("backup-server: a stored group is not replicate tier; skipped").pipe(
          Effect.annotateLogs({ group: entry.key, tier: entry.tier }),
        )
      }
    }
    const replicate = yield* Effect.forEach(
      stored.filter((e) => e.tier === "replicate"),
      forgetNames(known),
    )
    // A server has no repo of its own: what its groups' sync state names is all it keeps.
    const swept = yield* Effect.orElseSucceed(
      repos.sweep({ groups: replicate.map((e) => e.key), keep: [] }),
      () => [],
    )
    if (swept.length > 0) {
      yield* Effect.logInfo("backup-server: freed blobs no held group references").pipe(
        Effect.annotateLogs({ freed: swept.length }),
      )
    }
    for (const entry of replicate) {
      const scope = yield* Scope.fork(serverScope, "sequential")
      yield* start(entry.key, scope, Option.none(), entry)
    }

    const add = (link: string) =>
      lock.withPermit(
        Effect.gen(function* () {
          const invite = yield* parseGroupInvite(link).pipe(
            Effect.mapError((e) => reject("InvalidLink", `${e.part}: ${e.reason}`)),
          )
          if (invite.capability._tag !== "ReplicateCapability") {
            return yield* reject(
              "NotReplicateLink",
              "send the group's replicate link: this server never holds a key that decrypts files",
            )
          }
          if (held.has(invite.group)) return { key: invite.group, already: true }
          if (held.size >= maxGroups) {
            return yield* reject("TooManyGroups", `this server holds ${maxGroups} groups already`)
          }
          yield* Effect.logInfo("backup-server: joining group").pipe(
            Effect.annotateLogs({ group: invite.group }),
          )
          const scope = yield* Scope.fork(serverScope, "sequential")
          const joined = yield* Effect.exit(Scope.provide(scope)(groups.join(invite)))
          if (Exit.isFailure(joined)) {
            yield* Scope.close(scope, Exit.void)
            const error = Cause.squash(joined.cause)
            const message = error instanceof Error ? error.message : String(error)
            const tag = (error as { readonly _tag?: unknown })?._tag
            // The group's record could not be read now (this node or the DHT not ready, the
            // record not spread yet): the caller may try again.
            return yield* reject(
              tag === "RecordTimeout" || tag === "RecordNotFound" ? "Unavailable" : "JoinFailed",
              message,
            )
          }
          const group = joined.value
          const entry: KnownGroup = {
            key: group.key,
            credentials: encodeCredentials(group.credentials),
            repo: undefined,
            name: undefined,
            tier: "replicate",
          }
          const stored = yield* Effect.exit(known.put(entry))
          if (Exit.isFailure(stored)) {
            yield* Scope.close(scope, Exit.void)
            return yield* reject("Failed", "could not store the group")
          }
          yield* start(group.key, scope, Option.some(group), entry)
          yield* Effect.logInfo("backup-server: group added").pipe(
            Effect.annotateLogs({ group: group.key }),
          )
          return { key: group.key, already: false }
        }),
      )

    const remove = (groupKey: RecordKey) =>
      lock.withPermit(
        Effect.gen(function* () {
          const entry = held.get(groupKey)
          if (entry !== undefined) {
            held.delete(groupKey)
            // Stops its loop and its blob protocol first: nothing fetches while we free.
            yield* Scope.close(entry.scope, Exit.void)
          }
          const freed = yield* repos
            .purge(groupKey)
            .pipe(
              Effect.mapError((e) => reject("Failed", `freeing the group's blobs: ${e.message}`)),
            )
          yield* known
            .remove(groupKey)
            .pipe(Effect.mapError((e) => reject("Failed", `forgetting the group: ${e.message}`)))
          yield* Effect.logInfo("backup-server: group removed").pipe(
            Effect.annotateLogs({
              group: groupKey,
              held: entry !== undefined,
              freed: freed.length,
            }),
          )
          return { held: entry !== undefined, freed: freed.length }
        }),
      )

    const list = Effect.sync(() =>
      [...held.values()].map(
        (entry): HeldGroup => ({
          key: entry.key,
          name: null,
          tier: "replicate",
          repos:
            entry.last === undefined
              ? 0
              : entry.last.result.synced.size + entry.last.result.failed.size,
          synced: entry.last?.result.synced.size ?? 0,
          failed: entry.last?.result.failed.size ?? 0,
          lastSyncAt: entry.last?.at ?? null,
        }),
      ),
    )

    const heldGroups: HeldGroups = { list, add, remove }
    return heldGroups
  })
