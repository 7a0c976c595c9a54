// The backend's side of backup servers: register a group with a server (its replicate link
// goes over the server's route, behind the descriptor's request key; the server is listed
// in this member's repo record so the other members find it as a source), ask a server
// what it holds, and take a group off it again.
import type { DataReposShape } from "@save-dweb/data-repo"
import { NotWritable } from "@save-dweb/data-repo"
import type { CallError, ResponseTooLarge, TunnelsShape } from "@save-dweb/tunnels"
import { type BackupDescriptor, formatLink, parseBackupDescriptor } from "@save-dweb/uri-scheme"
import type { RecordKey } from "@save-dweb/veilid"
import { Effect, Option, Redacted, Result } from "effect"
import {
  type BackupError,
  BackupRefused,
  BackupUnreachable,
  InvalidBackupLink,
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
}

export interface BackupsDeps {
  readonly repos: DataReposShape
  /** Without tunnels no server can be reached (`BackupUnreachable`). */
  readonly tunnels: TunnelsShape | undefined
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

export const makeBackups = (deps: BackupsDeps): BackupsShape => {
  const { repos, tunnels, loadGroup } = deps

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

  const addBackup = Effect.fn("Backend.addBackup")(function* (groupKey: RecordKey, link: string) {
    const descriptor = yield* parse(link)
    const loaded = yield* loadGroup(groupKey)
    if (Option.isNone(loaded.repo)) {
      return yield* new NotWritable({ repo: undefined, operation: "addBackup" })
    }
    const replicate = formatLink(yield* loaded.group.invite("replicate"))
    const added = yield* expect(
      descriptor,
      yield* ask(descriptor, { _tag: "Add", v: 1, link: replicate }),
      "Added",
    )
    const keys = yield* descriptorKeys(descriptor)
    yield* loaded.repo.value.addBackup({
      record: descriptor.record,
      routeKey: Redacted.value(keys.route),
      ...(descriptor.name === undefined ? {} : { name: descriptor.name }),
    })
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
    const response = yield* ask(descriptor, { _tag: "List", v: 1 })
    const groups = (yield* expect(descriptor, response, "Groups")).groups
    const known = new Map(
      (yield* Effect.orElseSucceed(deps.listGroups ?? Effect.succeed([]), () => [])).map(
        (g) => [g.key, g.name] as const,
      ),
    )
    return groups.map((g) => ({ ...g, name: g.name ?? known.get(g.key) ?? null }))
  })

  const groupBackups = Effect.fn("Backend.groupBackups")(function* (groupKey: RecordKey) {
    const loaded = yield* loadGroup(groupKey)
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
      ([server, { name, listedBy }]): GroupBackup => ({ server, name, listedBy }),
    )
  })

  const removeBackup = Effect.fn("Backend.removeBackup")(function* (
    groupKey: RecordKey,
    link: string,
    options: RemoveBackupOptions = {},
  ) {
    const descriptor = yield* parse(link)
    const loaded = yield* loadGroup(groupKey)
    const asked = yield* Effect.result(
      Effect.flatMap(ask(descriptor, { _tag: "Remove", v: 1, group: groupKey }), (r) =>
        expect(descriptor, r, "Removed"),
      ),
    )
    if (Result.isFailure(asked) && !(options.force && asked.failure._tag === "BackupUnreachable")) {
      return yield* asked.failure
    }
    if (Option.isSome(loaded.repo)) yield* loaded.repo.value.removeBackup(descriptor.record)
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

  return { addBackup, listBackups, groupBackups, removeBackup }
}
