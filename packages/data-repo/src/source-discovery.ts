// Which routes to ask for a repo's blobs when the caller names no sources: the owner's
// published routes, the backup servers its record lists and, under source policy `any`,
// every other member's routes and listed backups. What each route answers (its tunnel and,
// in a `direct` group, its Iroh node) is `sourcesOf`'s.
import type { Source } from "@save-dweb/blob-store"
import type { DhtRecordsShape, OpenedRecord } from "@save-dweb/dht-records"
import type { Group } from "@save-dweb/group"
import type { TunnelsShape } from "@save-dweb/tunnels"
import { type Duration, Effect, Option } from "effect"
import { readBackupRoute } from "./backups.ts"
import type { DataRepoError } from "./errors.ts"
import { backupsOf } from "./listed-backups.ts"
import { type BackupRef, RepoRecord } from "./record.ts"
import { addressKeyFor, sourcesOf } from "./sources.ts"

interface FoundRoute {
  readonly id: string
  readonly route: Uint8Array
}

/** The routes a repo record publishes (subkeys 2..3), not cleared ones. */
export const routesOf = (record: OpenedRecord<RepoRecord>) =>
  Effect.gen(function* () {
    const found: Array<FoundRoute> = []
    for (const subkey of [2, 3] as const) {
      const entry = yield* record.get(subkey, { refresh: true })
      if (Option.isSome(entry) && entry.value.value.route !== null) {
        found.push({ id: `${record.key.slice(5, 13)}.${subkey}`, route: entry.value.value.route })
      }
    }
    return found
  })

/** Which sources `find` looks for. */
export interface Wanted {
  /** The owner's routes and the backups its record lists. */
  readonly owner: boolean
  /** Under policy `any`: every other member's routes and the backups their records list. */
  readonly others: boolean
  /** A backup left out (a backup server syncing: itself), by descriptor record. */
  readonly exclude?: string
}

export interface SourceDiscovery {
  /**
   * Sources for the repo of `record` found through published routes (none without
   * `tunnels`). Not this member's own route: its store is here. A record or backup that
   * does not answer is left out.
   */
  readonly find: (
    group: Group,
    record: OpenedRecord<RepoRecord>,
    tunnels: TunnelsShape | undefined,
    wanted: Wanted,
  ) => Effect.Effect<ReadonlyArray<Source>, DataRepoError>
}

export const makeSourceDiscovery = (
  records: DhtRecordsShape,
  options: { readonly askTimeout?: Duration.Input | undefined },
): SourceDiscovery => {
  /** The routes backups publish now, one per descriptor record; silent ones left out. */
  const backupRoutes = (refs: ReadonlyArray<BackupRef>, exclude: string | undefined) => {
    const unique = new Map<string, BackupRef>()
    for (const ref of refs) {
      if (ref.record !== exclude && !unique.has(ref.record)) unique.set(ref.record, ref)
    }
    return Effect.forEach(
      [...unique.values()],
      (ref) =>
        readBackupRoute(records, ref).pipe(
          Effect.map((route) =>
            Option.match(route, {
              onNone: (): ReadonlyArray<FoundRoute> => [],
              onSome: (blob) => [{ id: `backup.${ref.record.slice(5, 13)}`, route: blob }],
            }),
          ),
          Effect.orElseSucceed((): ReadonlyArray<FoundRoute> => []),
        ),
      { concurrency: "unbounded" },
    ).pipe(Effect.map((found) => found.flat()))
  }

  /** Another member's routes (none for this member's own repo) and listed backups. */
  const memberRoutes = (group: Group, repoKey: string, own: boolean) =>
    Effect.scoped(
      Effect.gen(function* () {
        const theirs = yield* records.open(RepoRecord, repoKey, {
          encryptionKey: group.keys.dhtValues,
        })
        const backups = yield* backupsOf(theirs)
        // This member's own store is here; the backups it listed are sources.
        const routes = own ? [] : yield* routesOf(theirs)
        return { routes, backups }
      }),
    ).pipe(
      Effect.orElseSucceed(() => ({
        routes: [] as ReadonlyArray<FoundRoute>,
        backups: [] as ReadonlyArray<BackupRef>,
      })),
    )

  const askTimeout = options.askTimeout
  return {
    find: (group, record, tunnels, wanted) =>
      Effect.gen(function* () {
        if (tunnels === undefined) return []
        const owner = wanted.owner ? yield* routesOf(record) : []
        const ownerBackups = wanted.owner
          ? yield* backupsOf(record).pipe(Effect.orElseSucceed((): ReadonlyArray<BackupRef> => []))
          : []
        const others =
          wanted.others && (yield* group.info).sourcePolicy === "any"
            ? yield* Effect.forEach(
                (yield* group.repos).filter((p) => p.repoKey !== record.key),
                (p) => memberRoutes(group, p.repoKey, p.slot === group.slot),
                { concurrency: "unbounded" },
              )
            : []
        const backups = yield* backupRoutes(
          [...ownerBackups, ...others.flatMap((o) => o.backups)],
          wanted.exclude,
        )
        return yield* sourcesOf(
          tunnels,
          group.key,
          { tunnel: group.keys.tunnelAuth, address: yield* addressKeyFor(group) },
          [...owner, ...others.flatMap((o) => o.routes), ...backups],
          askTimeout === undefined ? {} : { askTimeout },
        )
      }),
  }
}
