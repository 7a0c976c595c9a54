// The backend's side of backup servers: register a group with a server (its replicate link
// goes over the server's route, behind the descriptor's request key; the server is listed
// in this member's repo record so the other members find it as a source), ask a server
// what it holds, and take a group off it again. The links (with their access secrets) of
// the servers this member registered a group with are kept in the group's known entry, so
// a rotation's new group is registered with them too (`backup-follow.ts`).
import type { DataReposShape, Repo } from "@save-dweb/data-repo"
import { NotWritable } from "@save-dweb/data-repo"
import type { CallError, ResponseTooLarge, TunnelsShape } from "@save-dweb/tunnels"
import {
  type BackupDescriptor,
  formatLink,
  parseBackupDescriptor,
  parseLinkResult,
} from "@save-dweb/uri-scheme"
import type { RecordKey } from "@save-dweb/veilid"
import { Effect, Option, Redacted, Result } from "effect"
import {
  type BackupError,
  BackupRefused,
  BackupUnreachable,
  InvalidBackupLink,
  UnknownBackup,
} from "./backup-errors.ts"
import {
  BACKUP_PROTOCOL,
  type BackupRequest,
  type BackupResponse,
  decodeBackupResponse,
  descriptorKeys,
  encodeBackupRequest,
  type HeldGroup,
  MAX_BACKUP_RESPONSE_BYTES,
} from "./backup-protocol.ts"
import type { KnownGroupsStore } from "./known-groups.ts"
import type { BackendError, GroupSummary, LoadedGroup } from "./shape.ts"

/** What `addBackup` did. */
export interface BackupAdded {
  readonly group: RecordKey
  /** The server's descriptor record. */
  readonly server: RecordKey
  /** The descriptor's name, if it has one. */
  readonly name: string | undefined
  /** The server held the group already (another member registered it, or a retry). */
  readonly already: boolean
}

/** What `removeBackup` did. */
export interface BackupRemoved {
  readonly group: RecordKey
  readonly server: RecordKey
  /** The server answered (false only with `force` when it could not be reached). */
  readonly reached: boolean
  /** The server held the group. */
  readonly held: boolean
  /** Blobs the server freed. */
  readonly freed: number
}

/** A backup server that members of a group list in their repo records. */
export interface GroupBackup {
  readonly server: RecordKey
  readonly name: string | undefined
  /** Its link is kept here (this device added it): `removeKeptBackup` takes it off by key. */
  readonly kept: boolean
  readonly listedBy: ReadonlyArray<{
    readonly slot: number
    readonly memberName: string | undefined
    readonly mine: boolean
    /** When that member listed it (ms since the epoch). */
    readonly at: number
  }>
}

export interface RemoveBackupOptions {
  /** Stop listing the server even when it cannot be reached (it keeps its copy then). */
  readonly force?: boolean
}

export interface BackupsShape {
  /**
   * Registers a known group with the backup server of `link` (a `save+dweb:backup` link):
   * sends it the group's replicate link, then lists the server in this member's repo record
   * so every member can fetch from it while the owner is offline. Needs an own repo (write
   * tier): `NotWritable` otherwise, before anything is sent.
   */
  readonly addBackup: (
    groupKey: RecordKey,
    link: string,
  ) => Effect.Effect<BackupAdded, BackendError | BackupError>
  /**
   * The groups the backup server of `link` holds, with its last sync of each. The server
   * knows no name (`null`); a group known here gets its name from this backend.
   */
  readonly listBackups: (link: string) => Effect.Effect<ReadonlyArray<HeldGroup>, BackupError>
  /** The backup servers a group's members list (from their repo records). */
  readonly groupBackups: (
    groupKey: RecordKey,
  ) => Effect.Effect<ReadonlyArray<GroupBackup>, BackendError>
  /**
   * Asks the backup server of `link` to drop the group and free its blobs, then stops
   * listing it in this member's repo record.
   */
  readonly removeBackup: (
    groupKey: RecordKey,
    link: string,
    options?: RemoveBackupOptions,
  ) => Effect.Effect<BackupRemoved, BackendError | BackupError>
  /**
   * `removeBackup` with the link kept for the group here (this device added the server):
   * `UnknownBackup` when none of `server` is kept.
   */
  readonly removeKeptBackup: (
    groupKey: RecordKey,
    server: RecordKey,
    options?: RemoveBackupOptions,
  ) => Effect.Effect<BackupRemoved, BackendError | BackupError | UnknownBackup>
}

export interface BackupsDeps extends BackupClientDeps {
  /** Where the links of the servers this member registered groups with are kept. */
  readonly known: KnownGroupsStore
  readonly loadGroup: (key: RecordKey) => Effect.Effect<LoadedGroup, BackendError>
  /** The groups known here, whose names fill in what a server lists without one. */
  readonly listGroups?: Effect.Effect<ReadonlyArray<GroupSummary>, BackendError>
}

const parse = (link: string) =>
  parseBackupDescriptor(link).pipe(
    Effect.mapError((e) => new InvalidBackupLink({ reason: `${e.part}: ${e.reason}` })),
  )

const callFailure = (server: RecordKey) => (e: CallError | ResponseTooLarge) => {
  switch (e._tag) {
    case "Unauthorized":
      return new BackupRefused({ server, reason: "Unauthorized", detail: "wrong access secret" })
    case "UnknownProtocol":
      return new BackupRefused({ server, reason: "NotABackupServer" })
    case "ResponseTooLarge":
    case "RemoteError":
    case "TunnelProtocolError":
      return new BackupRefused({ server, reason: "BadResponse", detail: e.message })
    default:
      return new BackupUnreachable({ server, reason: e.message })
  }
}

export interface BackupClientDeps {
  readonly repos: DataReposShape
  /** Without tunnels no server can be reached (`BackupUnreachable`). */
  readonly tunnels: TunnelsShape | undefined
}

/** The requests of the backup protocol, one call each, to the server of a descriptor. */
export interface BackupClient {
  readonly add: (
    descriptor: BackupDescriptor,
    replicateLink: string,
  ) => Effect.Effect<{ readonly already: boolean }, BackupError>
  readonly list: (
    descriptor: BackupDescriptor,
  ) => Effect.Effect<ReadonlyArray<HeldGroup>, BackupError>
  readonly remove: (
    descriptor: BackupDescriptor,
    group: RecordKey,
  ) => Effect.Effect<{ readonly held: boolean; readonly freed: number }, BackupError>
}

export const makeBackupClient = ({ repos, tunnels }: BackupClientDeps): BackupClient => {
  /** One request to the server of `descriptor`, over the route its record publishes now. */
  const ask = (descriptor: BackupDescriptor, request: BackupRequest) =>
    Effect.gen(function* () {
      const server = descriptor.record
      if (tunnels === undefined) {
        return yield* new BackupUnreachable({ server, reason: "this backend has no tunnels" })
      }
      const keys = yield* descriptorKeys(descriptor)
      const route = yield* repos
        .backupRoute({ record: server, routeKey: Redacted.value(keys.route) })
        .pipe(
          Effect.mapError((e) =>
            e._tag === "RecordDecryptFailed"
              ? new BackupRefused({
                  server,
                  reason: "WrongAccessSecret",
                  detail: "the access secret does not open the descriptor record",
                })
              : new BackupUnreachable({ server, reason: `descriptor record: ${e.message}` }),
          ),
        )
      if (Option.isNone(route)) {
        return yield* new BackupUnreachable({
          server,
          reason: "no route published (the server is stopped)",
        })
      }
      const peer = yield* tunnels
        .connect(route.value, keys.requests)
        .pipe(Effect.mapError((e) => new BackupUnreachable({ server, reason: e.message })))
      const bytes = yield* peer
        .request(BACKUP_PROTOCOL, encodeBackupRequest(request), {
          maxResponseBytes: MAX_BACKUP_RESPONSE_BYTES,
        })
        .pipe(Effect.mapError(callFailure(server)))
      const response = decodeBackupResponse(bytes)
      if (Result.isFailure(response)) {
        return yield* new BackupRefused({ server, reason: "BadResponse", detail: response.failure })
      }
      if (response.success._tag === "Rejected") {
        const { reason, message } = response.success
        return yield* reason === "Unavailable"
          ? new BackupUnreachable({ server, reason: `the server cannot do it now: ${message}` })
          : new BackupRefused({ server, reason, detail: message })
      }
      return response.success
    })

  /** The response of `ask` when it is of kind `tag`, else `BadResponse`. */
  const expect = <T extends BackupResponse["_tag"]>(
    descriptor: BackupDescriptor,
    response: BackupResponse,
    tag: T,
  ): Effect.Effect<Extract<BackupResponse, { readonly _tag: T }>, BackupRefused> =>
    response._tag === tag
      ? Effect.succeed(response as Extract<BackupResponse, { readonly _tag: T }>)
      : Effect.fail(
          new BackupRefused({
            server: descriptor.record,
            reason: "BadResponse",
            detail: `expected ${tag}, got ${response._tag}`,
          }),
        )

  return {
    add: (descriptor, link) =>
      Effect.flatMap(ask(descriptor, { _tag: "Add", v: 1, link }), (r) =>
        expect(descriptor, r, "Added"),
      ),
    list: (descriptor) =>
      Effect.flatMap(ask(descriptor, { _tag: "List", v: 1 }), (r) =>
        Effect.map(expect(descriptor, r, "Groups"), (g) => g.groups),
      ),
    remove: (descriptor, group) =>
      Effect.flatMap(ask(descriptor, { _tag: "Remove", v: 1, group }), (r) =>
        expect(descriptor, r, "Removed"),
      ),
  }
}

/** The server a kept link names (`undefined` for one that no longer parses). */
const serverOf = (link: string): RecordKey | undefined => {
  const parsed = parseLinkResult(link)
  return Result.isSuccess(parsed) && parsed.success._tag === "BackupDescriptor"
    ? parsed.success.record
    : undefined
}

/** Kept links without the one of `server` (and without any that no longer parse). */
export const withoutBackupLink = (
  links: ReadonlyArray<string> | undefined,
  server: RecordKey,
): ReadonlyArray<string> =>
  (links ?? []).filter((link) => {
    const of = serverOf(link)
    return of !== undefined && of !== server
  })

/** Kept links with the one of `descriptor`'s server (in place of an older one of it). */
export const withBackupLink = (
  links: ReadonlyArray<string> | undefined,
  descriptor: BackupDescriptor,
): ReadonlyArray<string> => [...withoutBackupLink(links, descriptor.record), formatLink(descriptor)]

/** Changes the backup links kept in the stored entry of `key`. */
export const changeBackupLinks = (
  known: KnownGroupsStore,
  key: RecordKey,
  change: (links: ReadonlyArray<string> | undefined) => ReadonlyArray<string>,
) =>
  Effect.gen(function* () {
    const stored = yield* known.get(key)
    if (Option.isSome(stored)) {
      yield* known.put({ ...stored.value, backups: change(stored.value.backups) })
    }
  })

/** Lists the server of `descriptor` in `repo`'s record (its route key, not the secret). */
export const listIn = (repo: Repo, descriptor: BackupDescriptor) =>
  Effect.flatMap(descriptorKeys(descriptor), (keys) =>
    repo.addBackup({
      record: descriptor.record,
      routeKey: Redacted.value(keys.route),
      ...(descriptor.name === undefined ? {} : { name: descriptor.name }),
    }),
  )

export const makeBackups = (deps: BackupsDeps): BackupsShape => {
  const { loadGroup, known } = deps
  const client = makeBackupClient(deps)

  const changeLinks = (
    key: RecordKey,
    change: (links: ReadonlyArray<string> | undefined) => ReadonlyArray<string>,
  ) => changeBackupLinks(known, key, change)

  const addBackup = Effect.fn("Backend.addBackup")(function* (groupKey: RecordKey, link: string) {
    const descriptor = yield* parse(link)
    const loaded = yield* loadGroup(groupKey)
    if (Option.isNone(loaded.repo)) {
      return yield* new NotWritable({ repo: undefined, operation: "addBackup" })
    }
    const replicate = formatLink(yield* loaded.group.invite("replicate"))
    const added = yield* client.add(descriptor, replicate)
    yield* listIn(loaded.repo.value, descriptor)
    // Kept (with its access secret) so a rotation's new group is registered there too.
    yield* changeLinks(loaded.key, (links) => withBackupLink(links, descriptor))
    const result: BackupAdded = {
      group: groupKey,
      server: descriptor.record,
      name: descriptor.name,
      already: added.already,
    }
    return result
  })

  const listBackups = Effect.fn("Backend.listBackups")(function* (link: string) {
    const descriptor = yield* parse(link)
    const groups = yield* client.list(descriptor)
    const known = new Map(
      (yield* Effect.orElseSucceed(deps.listGroups ?? Effect.succeed([]), () => [])).map(
        (g) => [g.key, g.name] as const,
      ),
    )
    return groups.map((g) => ({ ...g, name: g.name ?? known.get(g.key) ?? null }))
  })

  /** The kept links of the group `loaded` (its current key's entry). */
  const keptLinks = (loaded: LoadedGroup) =>
    Effect.map(known.get(loaded.key), (stored) =>
      Option.match(stored, { onNone: () => [], onSome: (entry) => entry.backups ?? [] }),
    )

  const groupBackups = Effect.fn("Backend.groupBackups")(function* (groupKey: RecordKey) {
    const loaded = yield* loadGroup(groupKey)
    const kept = new Set((yield* keptLinks(loaded)).map(serverOf))
    const found = new Map<
      RecordKey,
      { name: string | undefined; listedBy: GroupBackup["listedBy"] }
    >()
    for (const summary of yield* loaded.repos) {
      const repo = yield* loaded.openRepo(summary.key)
      for (const backup of yield* repo.backups) {
        const entry = found.get(backup.record) ?? { name: backup.name, listedBy: [] }
        found.set(backup.record, {
          name: entry.name ?? backup.name,
          listedBy: [
            ...entry.listedBy,
            {
              slot: summary.slot,
              memberName: summary.memberName,
              mine: summary.mine,
              at: backup.at,
            },
          ],
        })
      }
    }
    return [...found].map(
      ([server, { name, listedBy }]): GroupBackup => ({
        server,
        name,
        kept: kept.has(server),
        listedBy,
      }),
    )
  })

  const removeBackup = Effect.fn("Backend.removeBackup")(function* (
    groupKey: RecordKey,
    link: string,
    options: RemoveBackupOptions = {},
  ) {
    const descriptor = yield* parse(link)
    const loaded = yield* loadGroup(groupKey)
    const asked = yield* Effect.result(client.remove(descriptor, groupKey))
    if (Result.isFailure(asked) && !(options.force && asked.failure._tag === "BackupUnreachable")) {
      return yield* asked.failure
    }
    if (Option.isSome(loaded.repo)) yield* loaded.repo.value.removeBackup(descriptor.record)
    yield* changeLinks(loaded.key, (links) => withoutBackupLink(links, descriptor.record))
    const removed: BackupRemoved = Result.isSuccess(asked)
      ? {
          group: groupKey,
          server: descriptor.record,
          reached: true,
          held: asked.success.held,
          freed: asked.success.freed,
        }
      : { group: groupKey, server: descriptor.record, reached: false, held: false, freed: 0 }
    return removed
  })

  const removeKeptBackup = Effect.fn("Backend.removeKeptBackup")(function* (
    groupKey: RecordKey,
    server: RecordKey,
    options: RemoveBackupOptions = {},
  ) {
    const loaded = yield* loadGroup(groupKey)
    const link = (yield* keptLinks(loaded)).find((l) => serverOf(l) === server)
    if (link === undefined) return yield* new UnknownBackup({ server })
    return yield* removeBackup(groupKey, link, options)
  })

  return { addBackup, listBackups, groupBackups, removeBackup, removeKeptBackup }
}
