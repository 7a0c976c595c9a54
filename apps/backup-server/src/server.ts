// The backup server over any layers (real Veilid and Iroh in the process, memory ones in
// unit tests): its identity and descriptor record, the request protocol on its own route,
// and for each group it holds a replication loop (data-repo's keepSynced as a backup) and
// the group's blobs served to its members. It learns no name: a replicate link carries
// none, and the group's, members' and repos' names are sealed under the group secret it
// does not hold; it stores and logs groups by key only. A held group's loop is
// `group-loop.ts`'s, the request protocol's wire side `requests.ts`'s.

import {
  backupKeysOf,
  type HeldGroup,
  type InvalidKnownGroup,
  type KnownGroup,
  type KnownGroupsStore,
} from "@save-dweb/backend"
import type { BlobStoreService } from "@save-dweb/blob-store"
import { SecretKey } from "@save-dweb/crypto"
import {
  BACKUP_RECORD_SUBKEYS,
  BACKUP_ROUTE_SUBKEY,
  BackupRecord,
  type DataReposShape,
  publishRoute,
} from "@save-dweb/data-repo"
import type { DhtRecordsError, DhtRecordsShape, RecordKey } from "@save-dweb/dht-records"
import { encodeCredentials, type GroupsShape } from "@save-dweb/group"
import type { TunnelsShape } from "@save-dweb/tunnels"
import {
  BackupDescriptor,
  formatLink,
  makeSecretKey,
  parseGroupInvite,
} from "@save-dweb/uri-scheme"
import type { VeilidError } from "@save-dweb/veilid"
import { Cause, Duration, Effect, Exit, Option, Redacted, Scope, Semaphore } from "effect"
import { forgetNames, type Held, makeGroupLoop } from "./group-loop.ts"
import { type Rejected, reject, serveRequests } from "./requests.ts"
import type { InvalidServerState, ServerStateStore } from "./state.ts"

export interface BackupServerServices {
  readonly records: DhtRecordsShape
  readonly tunnels: TunnelsShape
  readonly groups: GroupsShape
  /** Made with `syncState: state.roots` and these `tunnels`. */
  readonly repos: DataReposShape
  readonly store: BlobStoreService
  /** The groups held, with their replicate credentials (backend's store). */
  readonly known: KnownGroupsStore
  readonly state: ServerStateStore
}

export interface BackupServerOptions {
  /** The name in the descriptor link (a display hint, 1–128 UTF-8 bytes). */
  readonly name?: string
  /** Most groups held at once; more are refused with `TooManyGroups` (default 64). */
  readonly maxGroups?: number
  /** Passes of a group at least this far apart (default 1 s). */
  readonly minSyncInterval?: Duration.Input
  /** Retries of a pass with failures back off to this (default 1 min). */
  readonly maxSyncRetry?: Duration.Input
  /**
   * A pass of every group at least this often, change or not (default 30 s; `null`: only
   * on changes): a DHT watch notification that never arrives costs at most this. It is
   * the slowest of data-repo's adaptive poll: every 2 s while the group's changes come.
   */
  readonly pollInterval?: Duration.Input | null
  /** After a group's loop fails (its record unreadable), it starts again after this (10 s). */
  readonly restartDelay?: Duration.Input
}

export interface BackupServerShape {
  readonly descriptor: BackupDescriptor
  /** `save+dweb:backup?...`: give it to the people who may register groups here. */
  readonly link: string
  readonly list: Effect.Effect<ReadonlyArray<HeldGroup>>
  /** Holds the group of a replicate link (what a request `Add` does). */
  readonly add: (link: string) => Effect.Effect<{ key: RecordKey; already: boolean }, Rejected>
  /** Stops holding a group and frees its blobs (what a request `Remove` does). */
  readonly remove: (
    groupKey: RecordKey,
  ) => Effect.Effect<{ readonly held: boolean; readonly freed: number }, Rejected>
}

export type StartError = VeilidError | InvalidServerState | InvalidKnownGroup | DhtRecordsError

const DEFAULT_MAX_GROUPS = 64

/**
 * Starts the server in the current scope: identity (made on first start), the sweep of
 * blobs no held group references, each stored group's loop, the request protocol, and its
 * route in the descriptor record (set to `null` when the scope closes, before the layers
 * below shut down).
 */
export const makeBackupServer = (
  services: BackupServerServices,
  options: BackupServerOptions = {},
): Effect.Effect<BackupServerShape, StartError, Scope.Scope> =>
  Effect.gen(function* () {
    const { records, tunnels, groups, repos, known, state } = services
    const serverScope = yield* Effect.scope
    const maxGroups = options.maxGroups ?? DEFAULT_MAX_GROUPS
    const lock = yield* Semaphore.make(1)
    const held = new Map<RecordKey, Held>()

    // ---- Identity and descriptor record.
    const existing = yield* state.identity
    const identity = Option.isSome(existing)
      ? existing.value
      : yield* Effect.gen(function* () {
          const access = Redacted.value(yield* SecretKey.generate)
          const keys = yield* backupKeysOf(access)
          const created = yield* records.create(BackupRecord, {
            schema: { kind: "DFLT", subkeys: BACKUP_RECORD_SUBKEYS },
            encryptionKey: keys.route,
          })
          const owner = Option.getOrUndefined(created.ownerKeyPair)
          if (owner === undefined)
            return yield* Effect.die(new Error("created record has no owner"))
          const made = { record: created.key, owner, access }
          // Stored before anything is published: the link stays the same from now on.
          yield* state.saveIdentity(made)
          yield* Effect.logInfo("backup-server: new identity").pipe(
            Effect.annotateLogs({ record: made.record }),
          )
          return made
        })
    const keys = yield* backupKeysOf(identity.access)
    const descriptor = new BackupDescriptor({
      record: identity.record,
      accessSecret: makeSecretKey(identity.access),
      ...(options.name === undefined ? {} : { name: options.name }),
    })
    const record = yield* records.open(BackupRecord, identity.record, {
      encryptionKey: keys.route,
      writer: identity.owner,
    })

    // ---- Groups.
    const syncOptions = {
      asBackup: identity.record,
      minInterval: options.minSyncInterval ?? Duration.seconds(1),
      retryMax: options.maxSyncRetry ?? Duration.minutes(1),
      poll:
        options.pollInterval === null
          ? (false as const)
          : { slowest: options.pollInterval ?? Duration.seconds(30) },
    }
    const run = makeGroupLoop({
      groups,
      repos,
      tunnels,
      syncOptions,
      restartDelay: options.restartDelay ?? Duration.seconds(10),
    })

    const start = (key: RecordKey, scope: Scope.Closeable) => {
      const entry: Held = { key, scope, last: undefined }
      held.set(key, entry)
      return entry
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
      const held = start(entry.key, scope)
      yield* Effect.forkIn(Scope.provide(scope)(run(held, Option.none(), entry)), scope)
    }

    // ---- Requests.
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
          const heldEntry = start(group.key, scope)
          yield* Effect.forkIn(
            Scope.provide(scope)(run(heldEntry, Option.some(group), entry)),
            scope,
          )
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

    yield* serveRequests(tunnels, keys.requests, { add, list, remove })

    // ---- The route, published last (requests are served by then), cleared at close.
    yield* publishRoute(record, BACKUP_ROUTE_SUBKEY, tunnels, { logPrefix: "backup-server" })

    const server: BackupServerShape = {
      descriptor,
      link: formatLink(descriptor),
      list,
      add,
      remove,
    }
    return server
  })
