// The groups this backend knows and the ones it has loaded: create, join, load, list,
// rename, close and forget. Each loaded group lives in a child scope of the backend's; the
// known-groups store keeps what opens it again after a restart, and, for a group that was
// rotated, which key it moved to.
import type { Repo } from "@save-dweb/data-repo"
import {
  covers,
  decodeCredentials,
  encodeCredentials,
  type Group,
  type GroupCredentials,
  type GroupsShape,
} from "@save-dweb/group"
import type { TunnelsShape } from "@save-dweb/tunnels"
import type { RecordKey, VeilidError } from "@save-dweb/veilid"
import { Effect, Exit, Option, Queue, Scope, Semaphore, Stream } from "effect"
import { GroupAlreadyKnown, InvalidKnownGroup, UnknownGroup } from "./errors.ts"
import type { KnownGroup, KnownGroupsStore } from "./known-groups.ts"
import { type LoadedGroupDeps, makeLoadedGroup } from "./loaded-group.ts"
import type {
  BackendError,
  BackendShape,
  CreateGroupOptions,
  GroupSummary,
  JoinGroupOptions,
  LoadedGroup,
} from "./shape.ts"

export interface GroupRegistry
  extends Pick<
    BackendShape,
    | "createGroup"
    | "joinGroup"
    | "loadGroup"
    | "listGroups"
    | "closeGroup"
    | "forgetGroup"
    | "renameGroup"
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
  /**
   * Joins the group `credentials` open (a rotation's new group) with this member's name
   * and repo name, or loads it if it is known here already (a move that was cut short).
   */
  readonly enter: (
    credentials: GroupCredentials,
    options: JoinGroupOptions,
  ) => Effect.Effect<LoadedGroup, BackendError>
  /** Records that `from` moved to `to` and closes `from`: loading `from` loads `to` from now on. */
  readonly moved: (from: RecordKey, to: RecordKey) => Effect.Effect<void, BackendError>
  /** Keys of loaded groups whose watch saw a rotation, for the rotation follower. */
  readonly rotated: Stream.Stream<RecordKey>
}

export interface GroupRegistryDeps extends Omit<LoadedGroupDeps, "onRotated"> {
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
    const rotated = yield* Queue.unbounded<RecordKey>()
    const loadedDeps: LoadedGroupDeps = {
      ...deps,
      onRotated: (key) => Effect.asVoid(Queue.offer(rotated, key)),
    }

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
          return yield* makeLoadedGroup(loadedDeps, group, repo, scope)
        }),
      )
    }, lock.withPermit)

    const join = (invite: string | GroupCredentials, options: JoinGroupOptions) =>
      inGroupScope((scope) =>
        Effect.gen(function* () {
          const group = yield* groups.join(
            invite,
            options.memberName === undefined ? {} : { memberName: options.memberName },
          )
          if (yield* isKnown(group.key)) return yield* new GroupAlreadyKnown({ key: group.key })
          const name = yield* readName(group)
          const entry = entryOf(group, Option.getOrUndefined(name))
          yield* known.put(entry)
          const repoName =
            options.repoName ?? options.memberName ?? Option.getOrElse(name, () => "")
          const repo = yield* ownRepo(group, entry, repoName === "" ? "repo" : repoName)
          return yield* makeLoadedGroup(loadedDeps, group, repo, scope)
        }),
      )

    const joinGroup = Effect.fn("Backend.joinGroup")(function* (
      link: string,
      options: JoinGroupOptions = {},
    ) {
      return yield* join(link, options)
    }, lock.withPermit)

    /** The entry of `key`, or of the group it moved to (a rotated group's old key still finds it). */
    const currentEntry = Effect.fnUntraced(function* (key: RecordKey) {
      let current = key
      // A group rotated more than a few times in a row while this member was away is still found.
      for (let hops = 0; hops < 16; hops++) {
        const stored = yield* known.get(current)
        if (Option.isNone(stored)) return yield* new UnknownGroup({ key })
        if (stored.value.movedTo === undefined) return stored.value
        current = stored.value.movedTo
      }
      return yield* new UnknownGroup({ key })
    })

    const load = (key: RecordKey) =>
      Effect.gen(function* () {
        const held = open.get(key)
        if (held !== undefined) return held.loaded
        const entry = yield* currentEntry(key)
        const moved = open.get(entry.key)
        if (moved !== undefined) return moved.loaded
        return yield* loadEntry(entry)
      })

    const loadEntry = (entry: KnownGroup) => {
      const key = entry.key
      return inGroupScope((scope) =>
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
          return yield* makeLoadedGroup(loadedDeps, group, repo, scope)
        }),
      )
    }

    const loadGroup = Effect.fn("Backend.loadGroup")(function* (key: RecordKey) {
      return yield* load(key)
    }, lock.withPermit)

    const listGroups = Effect.map(known.all, (all) =>
      all.flatMap(
        (g): ReadonlyArray<GroupSummary> =>
          g.movedTo === undefined
            ? [{ key: g.key, name: g.name, tier: g.tier, loaded: open.has(g.key) }]
            : [],
      ),
    ).pipe(Effect.withSpan("Backend.listGroups"))

    const renameGroup = Effect.fn("Backend.renameGroup")(function* (key: RecordKey, name: string) {
      const { group } = yield* load(key)
      yield* group.updateInfo({ name })
      const stored = yield* known.get(group.key)
      if (Option.isSome(stored)) yield* known.put({ ...stored.value, name })
    }, lock.withPermit)

    const closeGroup = Effect.fn("Backend.closeGroup")(function* (key: RecordKey) {
      yield* closeOne(key)
    }, lock.withPermit)

    const forgetGroup = Effect.fn("Backend.forgetGroup")(function* (key: RecordKey) {
      yield* closeOne(key)
      yield* known.remove(key)
      // What was synced or pinned of the others' repos goes now; the own repo's blobs at
      // the next start's sweep.
      yield* repos
        .purge(key)
        .pipe(
          Effect.catchCause((cause) =>
            Effect.logWarning("backend: could not free a forgotten group's blobs", cause),
          ),
        )
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
      renameGroup,
      enter: (credentials, options) =>
        lock.withPermit(
          Effect.gen(function* () {
            const key = credentials.group
            if (yield* isKnown(key)) return yield* load(key)
            return yield* join(credentials, options)
          }),
        ),
      moved: (from, to) =>
        lock.withPermit(
          Effect.gen(function* () {
            const stored = yield* known.get(from)
            if (Option.isSome(stored)) yield* known.put({ ...stored.value, movedTo: to })
            yield* closeOne(from)
          }),
        ),
      rotated: Stream.fromQueue(rotated),
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
