import { join } from "node:path"
import {
  BlobStore,
  type BlobStoreService,
  type IrohStoreConfig,
  layer as irohLayer,
  type Source,
  type StoreError,
} from "@save-dweb/blob-store"
import {
  type DataRepoError,
  type DataReposShape,
  groupProtocols,
  makeDataRepos,
  type Repo,
  type SyncOptions,
  type SyncResult,
} from "@save-dweb/data-repo"
import { makeDhtRecords } from "@save-dweb/dht-records"
import {
  covers,
  decodeCredentials,
  encodeCredentials,
  type Group,
  type GroupError,
  type GroupsShape,
  makeGroups,
  type SourcePolicy,
  type Tier,
} from "@save-dweb/group"
import {
  type CallError,
  type InvalidRouteBlob,
  makeTunnels,
  type ResponseTooLarge,
  type RouteUnavailable,
  type TunnelsShape,
} from "@save-dweb/tunnels"
import {
  decodeConfig,
  makeConfig,
  makeVeilid,
  type RecordKey,
  Veilid,
  type VeilidConfig,
  type VeilidError,
  type VeilidLayerOptions,
} from "@save-dweb/veilid"
import { Clock, Context, Duration, Effect, Exit, Layer, Option, Scope, Semaphore } from "effect"
import { GroupAlreadyKnown, InvalidKnownGroup, MemberUnreachable, UnknownGroup } from "./errors.ts"
import { type KnownGroup, type KnownGroupsStore, tableStoreKnownGroups } from "./known-groups.ts"

export type BackendError =
  | GroupError
  | DataRepoError
  | VeilidError
  | UnknownGroup
  | GroupAlreadyKnown
  | InvalidKnownGroup

/** What `ping` fails with besides `BackendError`: no route to the member, or the call failed. */
export type PingError = MemberUnreachable | InvalidRouteBlob | CallError | ResponseTooLarge

export interface BackendConfig {
  /** Everything the backend keeps: `veilid/` (table, protected, block stores) and `iroh/`. */
  readonly storageDir: string
  /**
   * `"public"` (default): the public Veilid network. Otherwise a full veilid-core config
   * for a private network, e.g. the testnet's `nodeConfig(name)`; its store directories
   * are moved under `storageDir/veilid`.
   */
  readonly network?: "public" | { readonly veilidConfig: unknown }
  /** Partitions Veilid's storage (public network only); default `save-dweb`. */
  readonly programName?: string
  readonly veilid?: VeilidLayerOptions
  /** Iroh settings besides its directory (`storageDir/iroh`). */
  readonly iroh?: Omit<IrohStoreConfig, "dir">
}

/** A known group, as `listGroups` reports it (from storage, no network). */
export interface GroupSummary {
  readonly key: RecordKey
  /** The name as last read from the group record. */
  readonly name: string | undefined
  readonly tier: Tier
  readonly loaded: boolean
}

/** Another member's repo as `LoadedGroup.repos` lists it. */
export interface RepoSummary {
  readonly key: RecordKey
  readonly slot: number
  readonly memberName: string | undefined
  /** The repo's own name (subkey 0 of its record). */
  readonly name: string
  readonly mine: boolean
}

/** An open group: its handle, this member's repo, and other members' repos on demand. */
export interface LoadedGroup {
  readonly key: RecordKey
  readonly group: Group
  /** This member's repo (write tier and up); `None` for read and replicate links. */
  readonly repo: Option.Option<Repo>
  /** Every member's repo with its name; opened once and kept while the group is loaded. */
  readonly repos: Effect.Effect<ReadonlyArray<RepoSummary>, BackendError>
  /** One repo of the group (read-only unless it is ours), kept while the group is loaded. */
  readonly openRepo: (key: RecordKey) => Effect.Effect<Repo, BackendError>
  /**
   * One pass of data-repo's `syncAll` for this group: every other member's current files
   * fetched (sources per the group's policy), replaced and deleted ones freed from disk.
   */
  readonly sync: (options?: SyncOptions) => Effect.Effect<SyncResult, BackendError>
}

export interface CreateGroupOptions {
  /** This member's name in the group's slot. */
  readonly memberName?: string
  /** The member's repo name; defaults to `memberName`, then the group name. */
  readonly repoName?: string
  /** Who may serve a member's files: `any` member (group's default) or its `owner-only`. */
  readonly sourcePolicy?: SourcePolicy
}

export interface JoinGroupOptions {
  readonly memberName?: string
  readonly repoName?: string
}

export interface BackendShape {
  readonly storageDir: string
  readonly createGroup: (
    name: string,
    options?: CreateGroupOptions,
  ) => Effect.Effect<LoadedGroup, BackendError>
  /** Joins from an invite link; a write link also makes this member's repo. */
  readonly joinGroup: (
    link: string,
    options?: JoinGroupOptions,
  ) => Effect.Effect<LoadedGroup, BackendError>
  /** A known group, opened from stored credentials (the open handle if already loaded). */
  readonly loadGroup: (key: RecordKey) => Effect.Effect<LoadedGroup, BackendError>
  readonly listGroups: Effect.Effect<ReadonlyArray<GroupSummary>, BackendError>
  /** Closes the group's handles (its repo's route is cleared); it stays known. */
  readonly closeGroup: (key: RecordKey) => Effect.Effect<void>
  /** Closes the group and drops its stored credentials (nothing is written to the group). */
  readonly forgetGroup: (key: RecordKey) => Effect.Effect<void, VeilidError>
  /** This node's Iroh address (others find it over this node's tunnel route by themselves). */
  readonly source: Effect.Effect<Source, StoreError>
  /**
   * An authenticated round trip to the member in `slot` of a loaded group, over the route
   * published in its repo record (a request on data-repo's Iroh-address protocol, which
   * answers only holders of the group's tunnel key). Returns the round trip's latency.
   */
  readonly ping: (
    groupKey: RecordKey,
    slot: number,
  ) => Effect.Effect<Duration.Duration, BackendError | PingError>
}

/** What `makeBackend` composes; `Backend.layer` builds them on real nodes. */
export interface BackendServices {
  readonly storageDir: string
  readonly groups: GroupsShape
  readonly repos: DataReposShape
  readonly store: BlobStoreService
  readonly known: KnownGroupsStore
  /** Publishes this node's route in its repos; without it repos carry no route. */
  readonly tunnels?: TunnelsShape
}

interface Open {
  readonly loaded: LoadedGroup
  readonly scope: Scope.Closeable
}

/**
 * The backend over given services, in the current scope: closing it closes every loaded
 * group first (each repo clears its route while the network is still up).
 */
export const makeBackend = (
  services: BackendServices,
): Effect.Effect<BackendShape, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { groups, repos, store, known, tunnels } = services
    const parent = yield* Effect.scope
    const lock = yield* Semaphore.make(1)
    const open = new Map<RecordKey, Open>()
    const repoOptions = tunnels === undefined ? {} : { tunnels }

    const closeOne = (key: RecordKey) =>
      Effect.suspend(() => {
        const entry = open.get(key)
        if (entry === undefined) return Effect.void
        open.delete(key)
        return Scope.close(entry.scope, Exit.void)
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

    /** Wraps an opened group and its repo; `scope` holds both. */
    const loadedOf = (group: Group, repo: Option.Option<Repo>, scope: Scope.Closeable) =>
      Effect.gen(function* () {
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
          sync: (options = {}) =>
            repos.syncAll(group, options).pipe(Effect.withSpan("Backend.sync")),
        }
        return loaded
      })

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

    const createGroup = Effect.fn("Backend.createGroup")(function* (
      name: string,
      options: CreateGroupOptions = {},
    ) {
      return yield* inGroupScope((scope) =>
        Effect.gen(function* () {
          const group = yield* groups.create(name, {
            ...(options.memberName === undefined ? {} : { memberName: options.memberName }),
            ...(options.sourcePolicy === undefined ? {} : { sourcePolicy: options.sourcePolicy }),
          })
          // Stored before the repo is made: a group that exists is never lost.
          const entry = entryOf(group, name)
          yield* known.put(entry)
          const repo = yield* ownRepo(group, entry, options.repoName ?? options.memberName ?? name)
          return yield* loadedOf(group, repo, scope)
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
          if (open.has(group.key) || Option.isSome(yield* known.get(group.key))) {
            return yield* new GroupAlreadyKnown({ key: group.key })
          }
          const name = yield* readName(group)
          const entry = entryOf(group, Option.getOrUndefined(name))
          yield* known.put(entry)
          const repoName =
            options.repoName ?? options.memberName ?? Option.getOrElse(name, () => "")
          const repo = yield* ownRepo(group, entry, repoName === "" ? "repo" : repoName)
          return yield* loadedOf(group, repo, scope)
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
          return yield* loadedOf(group, repo, scope)
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

    const ping = Effect.fn("Backend.ping")(function* (groupKey: RecordKey, slot: number) {
      const held = open.get(groupKey)
      if (held === undefined) return yield* new UnknownGroup({ key: groupKey })
      const { group, openRepo } = held.loaded
      const unreachable = (reason: string) => new MemberUnreachable({ key: groupKey, slot, reason })
      if (tunnels === undefined) return yield* unreachable("this backend has no tunnels")
      const pointer = (yield* group.repos).find((p) => p.slot === slot)
      if (pointer === undefined) return yield* unreachable("no repo in this slot")
      const [route] = yield* (yield* openRepo(pointer.repoKey)).routes
      if (route === undefined) return yield* unreachable("no route published (offline)")
      const peer = yield* tunnels.connect(route, group.keys.tunnelAuth)
      const started = yield* Clock.currentTimeMillis
      yield* peer.request(groupProtocols(groupKey).iroh, new Uint8Array(0), {
        maxResponseBytes: 16 * 1024,
      })
      return Duration.millis((yield* Clock.currentTimeMillis) - started)
    })

    const backend: BackendShape = {
      storageDir: services.storageDir,
      createGroup,
      joinGroup,
      loadGroup,
      listGroups,
      closeGroup,
      forgetGroup,
      source: store.source(),
      ping,
    }
    return backend
  })

/** The Veilid config for `config`: public by default, or the given private network's. */
export const veilidConfigOf = (config: BackendConfig): Effect.Effect<VeilidConfig, VeilidError> => {
  const dir = join(config.storageDir, "veilid")
  const network = config.network ?? "public"
  if (network === "public") {
    return makeConfig({
      programName: config.programName ?? "save-dweb",
      storageDir: dir,
      network: "public",
    })
  }
  return Effect.map(
    decodeConfig(network.veilidConfig),
    (c): VeilidConfig => ({
      ...c,
      protected_store: { ...c.protected_store, directory: join(dir, "protected_store") },
      table_store: { ...c.table_store, directory: join(dir, "table_store") },
      block_store: { ...c.block_store, directory: join(dir, "block_store") },
    }),
  )
}

/**
 * The seeds' backend core: one Veilid node, one Iroh store, known groups and their
 * loaded handles. Building the layer is `start`; closing its scope is `stop` (groups
 * close first, clearing their routes, then Iroh and Veilid shut down).
 */
export const makeRealBackend = (
  config: BackendConfig,
): Effect.Effect<BackendShape, VeilidError | StoreError | RouteUnavailable, Scope.Scope> =>
  Effect.gen(function* () {
    const veilid = yield* makeVeilid(yield* veilidConfigOf(config), config.veilid)
    const records = yield* makeDhtRecords(veilid)
    const tunnels = yield* Effect.provideService(makeTunnels(), Veilid, veilid)
    const store = Context.get(
      yield* Layer.build(irohLayer({ ...config.iroh, dir: join(config.storageDir, "iroh") })),
      BlobStore,
    )
    const known = yield* tableStoreKnownGroups(veilid)
    return yield* makeBackend({
      storageDir: config.storageDir,
      groups: makeGroups(records),
      repos: makeDataRepos(records, store, { tunnels }),
      store,
      known,
      tunnels,
    })
  })

export class Backend extends Context.Service<Backend, BackendShape>()(
  "@save-dweb/backend/Backend",
) {
  /** Starts the backend (Veilid, Iroh, table store); stops it when the layer's scope closes. */
  static readonly layer = (
    config: BackendConfig,
  ): Layer.Layer<Backend, VeilidError | StoreError | RouteUnavailable> =>
    Layer.effect(Backend, makeRealBackend(config))
}
