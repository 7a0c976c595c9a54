// The groups this backend knows and the ones it has loaded: create, join, load, list,
// close and forget. Each loaded group lives in a child scope of the backend's; the
// known-groups store keeps what opens it again after a restart.
import type { Repo } from "@save-dweb/data-repo"
import {
  covers,
  decodeCredentials,
  encodeCredentials,
  type Group,
  type GroupsShape,
} from "@save-dweb/group"
import type { TunnelsShape } from "@save-dweb/tunnels"
import type { RecordKey, VeilidError } from "@save-dweb/veilid"
import { Effect, Exit, Option, Scope, Semaphore } from "effect"
import { GroupAlreadyKnown, InvalidKnownGroup, UnknownGroup } from "./errors.ts"
import type { KnownGroup, KnownGroupsStore } from "./known-groups.ts"
import { type LoadedGroupDeps, makeLoadedGroup } from "./loaded-group.ts"
import type {
  BackendShape,
  CreateGroupOptions,
  GroupSummary,
  JoinGroupOptions,
  LoadedGroup,
} from "./shape.ts"

export interface GroupRegistry
  extends Pick<
    BackendShape,
    "createGroup" | "joinGroup" | "loadGroup" | "listGroups" | "closeGroup" | "forgetGroup"
  > {
  /** A group that is loaded now (nothing is loaded for it). */
  readonly loaded: (key: RecordKey) => Effect.Effect<LoadedGroup, UnknownGroup>
  readonly loadedCount: Effect.Effect<number>
  /**
   * Stores new known groups, none if any of them is known here already
   * (`GroupAlreadyKnown`); `loadGroup` opens them.
   */
  readonly addKnown: (
    entries: ReadonlyArray<KnownGroup>,
  ) => Effect.Effect<void, GroupAlreadyKnown | InvalidKnownGroup | VeilidError>
}

export interface GroupRegistryDeps extends LoadedGroupDeps {
  readonly groups: GroupsShape
  readonly known: KnownGroupsStore
  /** Own repos publish this node's route on them; without it they carry none. */
  readonly tunnels: TunnelsShape | undefined
}

interface Open {
  readonly loaded: LoadedGroup
  readonly scope: Scope.Closeable
}

/**
 * The registry in the current scope: closing it closes every loaded group first (each
 * repo clears its route while the network is still up).
 */
export const makeGroupRegistry = (
  deps: GroupRegistryDeps,
): Effect.Effect<GroupRegistry, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { groups, repos, known, events } = deps
    const parent = yield* Effect.scope
    const lock = yield* Semaphore.make(1)
    const open = new Map<RecordKey, Open>()
    const repoOptions = deps.tunnels === undefined ? {} : { tunnels: deps.tunnels }

    const closeOne = (key: RecordKey) =>
      Effect.suspend(() => {
        const entry = open.get(key)
        if (entry === undefined) return Effect.void
        open.delete(key)
        return Effect.andThen(
          Scope.close(entry.scope, Exit.void),
          events.publish({ _tag: "GroupClosed", group: key }),
        )
      })

    // Added after the services were acquired, so it runs before their release.
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => Effect.forEach([...open.keys()], closeOne, { discard: true })),
    )

    const readName = (group: Group) =>
      Effect.map(
        Effect.option(group.info),
        Option.map((info) => info.name),
      )

    /**
     * Runs `f` in a new child scope that becomes the group's; a failure closes it. The
     * result is registered as loaded.
     */
    const inGroupScope = <E>(
      f: (scope: Scope.Closeable) => Effect.Effect<LoadedGroup, E, Scope.Scope>,
    ) =>
      Effect.gen(function* () {
        const scope = yield* Scope.fork(parent, "sequential")
        const exit = yield* Effect.exit(Scope.provide(scope)(f(scope)))
        if (Exit.isFailure(exit)) {
          yield* Scope.close(scope, exit)
          return yield* exit
        }
        open.set(exit.value.key, { loaded: exit.value, scope })
        yield* events.publish({ _tag: "GroupOpened", group: exit.value.key })
        return exit.value
      })

    /** This member's repo: made (and stored) on first use with write tier, else opened. */
    const ownRepo = (group: Group, entry: KnownGroup, repoName: string) =>
      Effect.gen(function* () {
        if (entry.repo !== undefined) {
          return Option.some(yield* repos.openMine(group, entry.repo, repoOptions))
        }
        if (!covers(group.tier, "write")) return Option.none<Repo>()
        const repo = yield* repos.create(group, { name: repoName, ...repoOptions })
        const credentials = Option.getOrUndefined(repo.credentials)
        if (credentials !== undefined) yield* known.put({ ...entry, repo: credentials })
        return Option.some(repo)
      })

    const entryOf = (group: Group, name: string | undefined): KnownGroup => ({
      key: group.key,
      credentials: encodeCredentials(group.credentials),
      repo: undefined,
      name,
      tier: group.tier,
    })

    const isKnown = (key: RecordKey) =>
      open.has(key) ? Effect.succeed(true) : Effect.map(known.get(key), Option.isSome)

    const createGroup = Effect.fn("Backend.createGroup")(function* (
      name: string,
      options: CreateGroupOptions = {},
    ) {
      return yield* inGroupScope((scope) =>
        Effect.gen(function* () {
          const group = yield* groups.create(name, {
            ...(options.memberName === undefined ? {} : { memberName: options.memberName }),
            ...(options.sourcePolicy === undefined ? {} : { sourcePolicy: options.sourcePolicy }),
            ...(options.transport === undefined ? {} : { transport: options.transport }),
          })
          // Stored before the repo is made: a group that exists is never lost.
          const entry = entryOf(group, name)
          yield* known.put(entry)
          const repo = yield* ownRepo(group, entry, options.repoName ?? options.memberName ?? name)
          return yield* makeLoadedGroup(deps, group, repo, scope)
        }),
      )
    }, lock.withPermit)

    const joinGroup = Effect.fn("Backend.joinGroup")(function* (
      link: string,
      options: JoinGroupOptions = {},
    ) {
      return yield* inGroupScope((scope) =>
        Effect.gen(function* () {
          const group = yield* groups.join(
            link,
            options.memberName === undefined ? {} : { memberName: options.memberName },
          )
          if (yield* isKnown(group.key)) return yield* new GroupAlreadyKnown({ key: group.key })
          const name = yield* readName(group)
          const entry = entryOf(group, Option.getOrUndefined(name))
          yield* known.put(entry)
          const repoName =
            options.repoName ?? options.memberName ?? Option.getOrElse(name, () => "")
          const repo = yield* ownRepo(group, entry, repoName === "" ? "repo" : repoName)
          return yield* makeLoadedGroup(deps, group, repo, scope)
        }),
      )
    }, lock.withPermit)

    const loadGroup = Effect.fn("Backend.loadGroup")(function* (key: RecordKey) {
      const held = open.get(key)
      if (held !== undefined) return held.loaded
      const stored = yield* known.get(key)
      if (Option.isNone(stored)) return yield* new UnknownGroup({ key })
      const entry = stored.value
      return yield* inGroupScope((scope) =>
        Effect.gen(function* () {
          const credentials = yield* Effect.mapError(
            decodeCredentials(entry.credentials),
            (e) => new InvalidKnownGroup({ key, message: e.message }),
          )
          const group = yield* groups.open(credentials)
          const name = Option.getOrUndefined(yield* readName(group))
          const current = name !== undefined && name !== entry.name ? { ...entry, name } : entry
          if (current !== entry) yield* known.put(current)
          const repo = yield* ownRepo(group, current, current.name ?? "repo")
          return yield* makeLoadedGroup(deps, group, repo, scope)
        }),
      )
    }, lock.withPermit)

    const listGroups = Effect.map(known.all, (all) =>
      all.map(
        (g): GroupSummary => ({ key: g.key, name: g.name, tier: g.tier, loaded: open.has(g.key) }),
      ),
    ).pipe(Effect.withSpan("Backend.listGroups"))

    const closeGroup = Effect.fn("Backend.closeGroup")(function* (key: RecordKey) {
      yield* closeOne(key)
    }, lock.withPermit)

    const forgetGroup = Effect.fn("Backend.forgetGroup")(function* (key: RecordKey) {
      yield* closeOne(key)
      yield* known.remove(key)
    }, lock.withPermit)

    const registry: GroupRegistry = {
      createGroup,
      joinGroup,
      loadGroup,
      listGroups,
      closeGroup,
      forgetGroup,
      loaded: (key) =>
        Effect.suspend(() => {
          const held = open.get(key)
          return held === undefined
            ? Effect.fail(new UnknownGroup({ key }))
            : Effect.succeed(held.loaded)
        }),
      loadedCount: Effect.sync(() => open.size),
      addKnown: (entries) =>
        lock.withPermit(
          Effect.gen(function* () {
            for (const entry of entries) {
              if (yield* isKnown(entry.key)) return yield* new GroupAlreadyKnown({ key: entry.key })
            }
            yield* Effect.forEach(entries, known.put, { discard: true })
          }),
        ),
    }
    return registry
  })
