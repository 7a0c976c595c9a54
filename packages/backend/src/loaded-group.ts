// One loaded group: its handle, this member's repo, other members' repos opened on demand
// and kept, and the group's background work (membership events, `autoSync`), all in the
// group's own scope.
import type { DataReposShape, Repo } from "@save-dweb/data-repo"
import { covers, type Group } from "@save-dweb/group"
import type { RecordKey } from "@save-dweb/veilid"
import { Effect, Option, Schedule, Scope, Semaphore, Stream } from "effect"
import { type EventHub, fromMembershipChanges } from "./events.ts"
import type { AutoSync, LoadedGroup } from "./shape.ts"

export interface LoadedGroupDeps {
  readonly repos: DataReposShape
  readonly events: EventHub
  readonly autoSync: AutoSync
  /** Called when the group's watch sees it was rotated (write members follow). */
  readonly onRotated: (key: RecordKey) => Effect.Effect<void>
}

/** Wraps an opened group and its repo; `scope` holds both and the group's background work. */
export const makeLoadedGroup = (
  deps: LoadedGroupDeps,
  group: Group,
  repo: Option.Option<Repo>,
  scope: Scope.Closeable,
): Effect.Effect<LoadedGroup> =>
  Effect.gen(function* () {
    const { repos, events } = deps
    const others = new Map<RecordKey, Repo>()
    const repoLock = yield* Semaphore.make(1)
    const openRepo = (key: RecordKey) =>
      Effect.gen(function* () {
        if (Option.isSome(repo) && repo.value.key === key) return repo.value
        const held = others.get(key)
        if (held !== undefined) return held
        const opened = yield* Scope.provide(scope)(repos.open(group, key))
        others.set(key, opened)
        return opened
      }).pipe(repoLock.withPermit, Effect.withSpan("Backend.openRepo"))
    const loaded: LoadedGroup = {
      key: group.key,
      group,
      repo,
      openRepo,
      repos: Effect.gen(function* () {
        const pointers = yield* group.repos
        return yield* Effect.forEach(
          pointers,
          (p) =>
            Effect.map(
              Effect.flatMap(openRepo(p.repoKey), (r) => r.name),
              (name) => ({
                key: p.repoKey,
                slot: p.slot,
                memberName: p.memberName,
                name,
                mine: Option.isSome(repo) && repo.value.key === p.repoKey,
              }),
            ),
          { concurrency: 4 },
        )
      }).pipe(Effect.withSpan("Backend.repos")),
      sync: (options = {}) => {
        const report = events.reportSync(group.key)
        const given = options.onProgress
        return repos
          .syncAll(group, {
            ...options,
            onProgress: (event) =>
              given === undefined ? report(event) : Effect.andThen(given(event), report(event)),
          })
          .pipe(Effect.withSpan("Backend.sync"))
      },
    }
    yield* watchGroup(deps, group, scope)
    return loaded
  })

/**
 * The group's background work, in its scope: membership changes to `events`, a rotation
 * (seen at load or later) to `onRotated` for write members, and with `autoSync`
 * data-repo's `keepSynced`. A failing watch or loop is logged and started again after a
 * pause; both stop when the group closes.
 */
const watchGroup = (deps: LoadedGroupDeps, group: Group, scope: Scope.Closeable) =>
  Effect.gen(function* () {
    // Only a member with a slot has an entry in a rotation notice.
    const follows = covers(group.tier, "write")
    const again = <A, E>(what: string, effect: Effect.Effect<A, E>) =>
      effect.pipe(
        Effect.tapCause((cause) => Effect.logWarning(`backend: ${what} failed`, cause)),
        Effect.retry(Schedule.spaced("10 seconds")),
      )
    yield* again(
      "watching members",
      group.watchMembers().pipe(
        // The first element is the membership now: no change, but maybe a rotation that
        // happened while this member was away.
        Stream.runForEach((m) =>
          Effect.andThen(
            m.changes.length === 0
              ? Effect.void
              : deps.events.publish(fromMembershipChanges(group.key, m.changes)),
            m.rotated && follows ? deps.onRotated(group.key) : Effect.void,
          ),
        ),
      ),
    ).pipe(Effect.forkIn(scope))
    if (deps.autoSync !== false) {
      yield* again(
        "keepSynced",
        deps.repos.keepSynced(group, {
          ...(deps.autoSync === true ? {} : deps.autoSync),
          onProgress: deps.events.reportSync(group.key),
        }),
      ).pipe(Effect.forkIn(scope))
    }
  })
