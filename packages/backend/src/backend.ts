import type { BlobStoreService, Source, StoreError } from "@save-dweb/blob-store"
import {
  type DataRepoError,
  type DataReposShape,
  type FileInput,
  FileNotFound,
  groupProtocols,
  type KeepSyncedOptions,
  NotWritable,
  type Repo,
  type RepoFile,
  type SyncEvent,
  type SyncOptions,
  type SyncResult,
} from "@save-dweb/data-repo"
import {
  covers,
  decodeCredentials,
  encodeCredentials,
  type Group,
  type GroupError,
  type GroupsShape,
  type SourcePolicy,
  type Tier,
} from "@save-dweb/group"
import type {
  CallError,
  InvalidRouteBlob,
  ResponseTooLarge,
  RouteUnavailable,
  TunnelsShape,
} from "@save-dweb/tunnels"
import {
  type CapabilityTier,
  formatLink,
  MAX_PAIRING_ENTRIES,
  type PairingEntry,
  PairingLink,
  parsePairingLink,
} from "@save-dweb/uri-scheme"
import type { RecordKey, VeilidError } from "@save-dweb/veilid"
import {
  Clock,
  Context,
  Duration,
  Effect,
  Exit,
  Layer,
  Option,
  PubSub,
  Schedule,
  Scope,
  Semaphore,
  Stream,
} from "effect"
import { type BackupsShape, makeBackups } from "./backups.ts"
import {
  GroupAlreadyKnown,
  InvalidKnownGroup,
  InvalidPairingLink,
  MemberUnreachable,
  NotPairable,
  UnknownGroup,
  UnknownRepo,
} from "./errors.ts"
import { type BackendEvent, fromMembershipChanges, fromSyncEvent } from "./events.ts"
import type { KnownGroup, KnownGroupsStore } from "./known-groups.ts"
import { makeNode, type NetworkStatus, type NodeConfig } from "./node.ts"
import { knownGroupOf, pairingEntryOf } from "./pairing.ts"

export type BackendError =
  | GroupError
  | DataRepoError
  | VeilidError
  | UnknownGroup
  | GroupAlreadyKnown
  | InvalidKnownGroup
  | UnknownRepo

/** What device pairing fails with besides `BackendError`. */
export type PairingError = NotPairable | InvalidPairingLink

/** What `ping` fails with besides `BackendError`: no route to the member, or the call failed. */
export type PingError = MemberUnreachable | InvalidRouteBlob | CallError | ResponseTooLarge

export interface BackendConfig extends NodeConfig {
  /** Keep every loaded group synced in the background (see `BackendServices.autoSync`). */
  readonly autoSync?: AutoSync
}

/**
 * `true` (or options): each loaded group runs data-repo's `keepSynced` while it is
 * loaded, so other members' files arrive (and deleted ones are freed) without a `sync`
 * call; its progress goes to `events`. Default off.
 */
export type AutoSync = boolean | Omit<KeepSyncedOptions, "onProgress" | "onResult">

export interface BackendStatus {
  /** `undefined` when the backend runs without Veilid (memory layers in tests). */
  readonly network: NetworkStatus | undefined
  /** This node's Iroh node; `undefined` for a store that has none (memory layers). */
  readonly iroh: { readonly nodeId: string; readonly addresses: ReadonlyArray<string> } | undefined
  readonly groups: { readonly known: number; readonly loaded: number }
}

/** A current member of a group, as `members` lists it. */
export interface MemberSummary {
  readonly slot: number
  readonly name: string | undefined
  readonly repo: RecordKey | undefined
  readonly joinedAt: number
  /** This backend's own slot. */
  readonly mine: boolean
}

/** A file about to be read: its manifest entry, and its plaintext once the bytes are here. */
export interface FileRead {
  readonly file: RepoFile
  /** Plaintext from the local store (already fetched when this was returned). */
  readonly bytes: Stream.Stream<Uint8Array, BackendError>
}

/** A repo of a loaded group: a record key, or `"mine"` for this member's own. */
export type RepoRef = RecordKey | "mine"

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

export interface BackendShape extends BackupsShape {
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

  // The calls below take a known group's key and load it when it is not loaded.

  /** Veilid attachment and peers, the Iroh node, known and loaded groups. */
  readonly status: Effect.Effect<BackendStatus>
  /**
   * Sync progress, membership changes and file changes of loaded groups, groups opened and
   * closed. Each run of the stream subscribes anew and sees what happens from then on; a
   * subscriber that falls more than 1024 events behind loses the oldest.
   */
  readonly events: Stream.Stream<BackendEvent>
  /**
   * `events`, subscribed at once: nothing published after this effect completes is missed
   * (subscribe, then act, then read). The subscription ends with the scope.
   */
  readonly subscribe: Effect.Effect<Stream.Stream<BackendEvent>, never, Scope.Scope>
  /** The group's current members (read from the network). */
  readonly members: (
    groupKey: RecordKey,
  ) => Effect.Effect<ReadonlyArray<MemberSummary>, BackendError>
  /** An invite link (text) for `tier`; a write link takes a slot (manager only). */
  readonly invite: (
    groupKey: RecordKey,
    tier: CapabilityTier,
  ) => Effect.Effect<string, BackendError>
  /** Leaves the group (a tombstone in this member's slot, write tiers) and forgets it here. */
  readonly leaveGroup: (groupKey: RecordKey) => Effect.Effect<void, BackendError>
  /** One sync pass of the group (as `LoadedGroup.sync`), reported on `events`. */
  readonly syncGroup: (groupKey: RecordKey) => Effect.Effect<SyncResult, BackendError>
  /** The files of a repo of the group, each `local` or `remote-only` here. */
  readonly files: (
    groupKey: RecordKey,
    repo: RepoRef,
  ) => Effect.Effect<ReadonlyArray<RepoFile>, BackendError>
  /** Writes a file into this member's repo (`NotWritable` without one); `FilesChanged` follows. */
  readonly writeFile: <E>(
    groupKey: RecordKey,
    name: string,
    input: FileInput<E>,
  ) => Effect.Effect<RepoFile, E | BackendError>
  /** Deletes a file of this member's repo; `FilesChanged` follows. */
  readonly deleteFile: (groupKey: RecordKey, name: string) => Effect.Effect<void, BackendError>
  /**
   * A file of any repo of the group: `FileNotFound` (and fetch failures) come before any
   * byte, so a caller can answer with a status first; the bytes are then read locally.
   */
  readonly readFile: (
    groupKey: RecordKey,
    repo: RepoRef,
    name: string,
  ) => Effect.Effect<FileRead, BackendError>
  /** Keeps a local copy of a file (fetched now if missing). */
  readonly pin: (
    groupKey: RecordKey,
    repo: RepoRef,
    name: string,
  ) => Effect.Effect<void, BackendError>
  /** Drops the local copy of another member's file (own files stay: they are the repo). */
  readonly unpin: (
    groupKey: RecordKey,
    repo: RepoRef,
    name: string,
  ) => Effect.Effect<void, BackendError>
  /**
   * A device-pairing link (seed 003) carrying this member's identity in the given groups
   * (default: every known group it has a slot and a repo in). It holds secrets.
   */
  readonly makePairingLink: (
    groupKeys?: ReadonlyArray<RecordKey>,
  ) => Effect.Effect<string, BackendError | PairingError>
  /**
   * Uses a pairing link: this backend becomes that member in each of its groups (stored,
   * then loaded; the repo is continued with `openMine`, its files fetched from the other
   * device through the published routes). `GroupAlreadyKnown` if any group is known here
   * (nothing is stored then). A group whose load fails stays stored: `loadGroup` retries.
   */
  readonly pair: (
    link: string,
  ) => Effect.Effect<ReadonlyArray<GroupSummary>, BackendError | PairingError>
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
  /** This node's network for `status`; without it `status` reports none. */
  readonly network?: { readonly status: Effect.Effect<NetworkStatus> }
  readonly autoSync?: AutoSync
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
    // Sliding: a listener that does not keep up loses the oldest events, never blocks a sync.
    const eventHub = yield* PubSub.sliding<BackendEvent>(1024)
    const publish = (event: BackendEvent) => Effect.asVoid(PubSub.publish(eventHub, event))
    const reportSync = (groupKey: RecordKey) => (event: SyncEvent) =>
      Effect.forEach(fromSyncEvent(groupKey, event), publish, { discard: true })

    const closeOne = (key: RecordKey) =>
      Effect.suspend(() => {
        const entry = open.get(key)
        if (entry === undefined) return Effect.void
        open.delete(key)
        return Effect.andThen(
          Scope.close(entry.scope, Exit.void),
          publish({ _tag: "GroupClosed", group: key }),
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
          sync: (options = {}) => {
            const report = reportSync(group.key)
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
        yield* watchGroup(group, scope)
        return loaded
      })

    /**
     * The group's background work, in its scope: membership changes to `events`, and with
     * `autoSync` data-repo's `keepSynced`. A failing watch or loop is logged and started
     * again after a pause; both stop when the group closes.
     */
    const watchGroup = (group: Group, scope: Scope.Closeable) =>
      Effect.gen(function* () {
        const again = <A, E>(what: string, effect: Effect.Effect<A, E>) =>
          effect.pipe(
            Effect.tapCause((cause) => Effect.logWarning(`backend: ${what} failed`, cause)),
            Effect.retry(Schedule.spaced("10 seconds")),
          )
        yield* again(
          "watching members",
          group.watchMembers().pipe(
            // The first element is the membership now, not a change.
            Stream.drop(1),
            Stream.runForEach((m) =>
              m.changes.length === 0
                ? Effect.void
                : publish(fromMembershipChanges(group.key, m.changes)),
            ),
          ),
        ).pipe(Effect.forkIn(scope))
        const autoSync = services.autoSync ?? false
        if (autoSync !== false) {
          yield* again(
            "keepSynced",
            repos.keepSynced(group, {
              ...(autoSync === true ? {} : autoSync),
              onProgress: reportSync(group.key),
            }),
          ).pipe(Effect.forkIn(scope))
        }
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
        yield* publish({ _tag: "GroupOpened", group: exit.value.key })
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

    /** A repo of a loaded group: this member's own (`mine`), or one its members point to. */
    const repoOf = (loaded: LoadedGroup, ref: RepoRef) =>
      Effect.gen(function* () {
        const unknown = (message: string) =>
          new UnknownRepo({ group: loaded.key, repo: ref, message })
        const own = Option.getOrUndefined(loaded.repo)
        if (ref === "mine") {
          if (own === undefined) {
            return yield* unknown(`no own repo in group ${loaded.key} (${loaded.group.tier} tier)`)
          }
          return own
        }
        if (own !== undefined && own.key === ref) return own
        const pointers = yield* loaded.group.repos
        if (!pointers.some((p) => p.repoKey === ref)) {
          return yield* unknown(`no repo ${ref} in group ${loaded.key}`)
        }
        return yield* loaded.openRepo(ref)
      })

    const ownRepoOf = (loaded: LoadedGroup, operation: string) =>
      Option.match(loaded.repo, {
        onNone: () => Effect.fail(new NotWritable({ repo: undefined, operation })),
        onSome: Effect.succeed,
      })

    const status = Effect.gen(function* () {
      const knownGroups = yield* Effect.orElseSucceed(known.all, () => [])
      const network = services.network === undefined ? undefined : yield* services.network.status
      const source = yield* Effect.option(store.source())
      const iroh =
        Option.isSome(source) && source.value._tag === "IrohSource"
          ? { nodeId: source.value.nodeId, addresses: source.value.addresses }
          : undefined
      const result: BackendStatus = {
        network,
        iroh,
        groups: { known: knownGroups.length, loaded: open.size },
      }
      return result
    }).pipe(Effect.withSpan("Backend.status"))

    const members = Effect.fn("Backend.members")(function* (groupKey: RecordKey) {
      const { group } = yield* loadGroup(groupKey)
      return (yield* group.members).map(
        (m): MemberSummary => ({
          slot: m.slot,
          name: m.name,
          repo: m.repoKey,
          joinedAt: m.joinedAt,
          mine: m.slot === group.slot,
        }),
      )
    })

    const invite = Effect.fn("Backend.invite")(function* (
      groupKey: RecordKey,
      tier: CapabilityTier,
    ) {
      const { group } = yield* loadGroup(groupKey)
      return formatLink(yield* group.invite(tier))
    })

    const leaveGroup = Effect.fn("Backend.leaveGroup")(function* (groupKey: RecordKey) {
      const { group } = yield* loadGroup(groupKey)
      yield* group.leave
      yield* forgetGroup(groupKey)
    })

    const syncGroup = Effect.fn("Backend.syncGroup")(function* (groupKey: RecordKey) {
      return yield* (yield* loadGroup(groupKey)).sync()
    })

    const files = Effect.fn("Backend.files")(function* (groupKey: RecordKey, ref: RepoRef) {
      return yield* (yield* repoOf(yield* loadGroup(groupKey), ref)).list()
    })

    const writeFile = <E>(groupKey: RecordKey, name: string, input: FileInput<E>) =>
      Effect.gen(function* () {
        const repo = yield* ownRepoOf(yield* loadGroup(groupKey), "write")
        const file = yield* repo.write(name, input)
        yield* publishOwnChange(groupKey, repo)
        return file
      }).pipe(Effect.withSpan("Backend.writeFile"))

    const publishOwnChange = (groupKey: RecordKey, repo: Repo) =>
      Effect.flatMap(Effect.option(repo.pointer), (pointer) =>
        publish({
          _tag: "FilesChanged",
          group: groupKey,
          repo: repo.key,
          root: Option.match(Option.flatten(pointer), {
            onNone: () => null,
            onSome: (p) => p.root,
          }),
          mine: true,
        }),
      )

    const deleteFile = Effect.fn("Backend.deleteFile")(function* (
      groupKey: RecordKey,
      name: string,
    ) {
      const repo = yield* ownRepoOf(yield* loadGroup(groupKey), "delete")
      yield* repo.delete(name)
      yield* publishOwnChange(groupKey, repo)
    })

    const readFile = Effect.fn("Backend.readFile")(function* (
      groupKey: RecordKey,
      ref: RepoRef,
      name: string,
    ) {
      const repo = yield* repoOf(yield* loadGroup(groupKey), ref)
      const file = (yield* repo.list()).find((f) => f.name === name)
      if (file === undefined) return yield* new FileNotFound({ repo: repo.key, name })
      // Fetched (and kept, like `read` keeps what it fetches) before any byte is sent.
      yield* repo.pin(name)
      const read: FileRead = { file: { ...file, status: "local" }, bytes: repo.read(name) }
      return read
    })

    const pin = Effect.fn("Backend.pin")(function* (
      groupKey: RecordKey,
      ref: RepoRef,
      name: string,
    ) {
      yield* (yield* repoOf(yield* loadGroup(groupKey), ref)).pin(name)
    })

    const unpin = Effect.fn("Backend.unpin")(function* (
      groupKey: RecordKey,
      ref: RepoRef,
      name: string,
    ) {
      yield* (yield* repoOf(yield* loadGroup(groupKey), ref)).unpin(name)
    })

    const makePairingLink = Effect.fn("Backend.makePairingLink")(function* (
      groupKeys?: ReadonlyArray<RecordKey>,
    ) {
      let entries: ReadonlyArray<PairingEntry>
      if (groupKeys !== undefined) {
        entries = yield* Effect.forEach(groupKeys, (key) =>
          Effect.gen(function* () {
            const stored = yield* known.get(key)
            if (Option.isNone(stored)) return yield* new UnknownGroup({ key })
            return yield* pairingEntryOf(stored.value)
          }),
        )
      } else {
        const all = yield* known.all
        const made = yield* Effect.forEach(all, (entry) => Effect.option(pairingEntryOf(entry)))
        entries = made.flatMap((o) => (Option.isSome(o) ? [o.value] : []))
      }
      if (entries.length === 0) {
        return yield* new NotPairable({
          key: undefined,
          reason: "no known group in which this member has a slot and a repo",
        })
      }
      if (entries.length > MAX_PAIRING_ENTRIES) {
        return yield* new NotPairable({
          key: undefined,
          reason: `${entries.length} groups; a link carries at most ${MAX_PAIRING_ENTRIES}: name them`,
        })
      }
      return formatLink(new PairingLink({ entries }))
    })

    const pair = Effect.fn("Backend.pair")(function* (link: string) {
      const parsed = yield* parsePairingLink(link).pipe(
        Effect.mapError((e) => new InvalidPairingLink({ reason: e.message })),
      )
      const entries = yield* Effect.forEach(parsed.entries, knownGroupOf)
      yield* lock.withPermit(
        Effect.gen(function* () {
          for (const entry of entries) {
            if (open.has(entry.key) || Option.isSome(yield* known.get(entry.key))) {
              return yield* new GroupAlreadyKnown({ key: entry.key })
            }
          }
          yield* Effect.forEach(entries, known.put, { discard: true })
        }),
      )
      yield* Effect.forEach(entries, (entry) => loadGroup(entry.key), { discard: true })
      const listed = yield* listGroups
      return listed.filter((g) => entries.some((e) => e.key === g.key))
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
      status,
      events: Stream.fromPubSub(eventHub),
      subscribe: Effect.map(PubSub.subscribe(eventHub), Stream.fromSubscription),
      members,
      invite,
      leaveGroup,
      syncGroup,
      files,
      writeFile,
      deleteFile,
      readFile,
      pin,
      unpin,
      makePairingLink,
      pair,
      ...makeBackups({ repos, tunnels, loadGroup }),
    }
    return backend
  })

/**
 * The seeds' backend core: one Veilid node, one Iroh store, known groups and their
 * loaded handles. Building the layer is `start`; closing its scope is `stop` (groups
 * close first, clearing their routes, then Iroh and Veilid shut down).
 */
export const makeRealBackend = (
  config: BackendConfig,
): Effect.Effect<BackendShape, VeilidError | StoreError | RouteUnavailable, Scope.Scope> =>
  Effect.gen(function* () {
    const node = yield* makeNode(config)
    return yield* makeBackend({
      storageDir: config.storageDir,
      ...node,
      ...(config.autoSync === undefined ? {} : { autoSync: config.autoSync }),
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
