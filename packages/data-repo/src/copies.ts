// Who holds a blob of a repo now, as the holders themselves prove it: every other member of
// the group (through the routes their repo records publish) and every backup server the
// repo's owner lists (through the route its descriptor record publishes) is sent a fresh
// possession challenge over its private route, all at once, each with a deadline.
import type { BlobHash, BlobStoreService } from "@save-dweb/blob-store"
import type { DhtRecordsShape, RecordKey } from "@save-dweb/dht-records"
import type { Group } from "@save-dweb/group"
import type { TunnelsShape } from "@save-dweb/tunnels"
import { Duration, Effect, Option } from "effect"
import { readBackupRoute } from "./backups.ts"
import { NotLocal } from "./errors.ts"
import { backupsOf } from "./listed-backups.ts"
import { answerFrom, askPossession, makeChallenge, type Possession } from "./possession.ts"
import { type BackupRef, RepoRecord } from "./record.ts"
import { routesOf } from "./source-discovery.ts"
import { groupProtocols } from "./sources.ts"

/** A device asked: a member's (by slot and repo) or a backup server's (by descriptor record). */
export type Holder =
  | { readonly _tag: "Member"; readonly slot: number; readonly repo: RecordKey }
  | { readonly _tag: "Backup"; readonly record: string; readonly name: string | undefined }

export interface HolderCheck {
  readonly holder: Holder
  readonly possession: Possession
}

export interface CopiesOptions {
  /** How long one holder may take, route lookup included (default 15 s). */
  readonly timeout?: Duration.Input
}

export const makeCopies =
  (records: DhtRecordsShape, store: BlobStoreService) =>
  (
    group: Group,
    repoKey: RecordKey,
    hash: BlobHash,
    tunnels: TunnelsShape,
    options: CopiesOptions = {},
  ) =>
    Effect.gen(function* () {
      // The asker checks every answer against its own copy.
      const size = yield* store
        .size(hash)
        .pipe(Effect.mapError(() => new NotLocal({ repo: repoKey, hash })))
      const timeout = options.timeout ?? Duration.seconds(15)
      const protocol = groupProtocols(group.key).proof

      /** The best any of the holder's routes showed: one proof is enough. */
      const ask = (routes: ReadonlyArray<Uint8Array>) =>
        Effect.gen(function* () {
          const answers = yield* Effect.forEach(
            routes,
            (route) =>
              Effect.gen(function* () {
                const challenge = yield* makeChallenge(hash, size)
                const expected = yield* answerFrom(store, challenge)
                if (Option.isNone(expected)) return "unknown" as const
                const peer = yield* tunnels.connect(route, group.keys.tunnelAuth)
                return yield* askPossession(peer, protocol, challenge, expected.value, timeout)
              }).pipe(Effect.orElseSucceed(() => "unknown" as const)),
            { concurrency: "unbounded" },
          )
          if (answers.includes("holds")) return "holds" as const
          if (answers.includes("absent")) return "absent" as const
          return "unknown" as const
        })

      const check = (holder: Holder, routes: Effect.Effect<ReadonlyArray<Uint8Array>, unknown>) =>
        Effect.flatMap(routes, ask).pipe(
          Effect.timeoutOption(timeout),
          Effect.map(
            (possession): HolderCheck => ({
              holder,
              possession: Option.getOrElse(possession, () => "unknown" as const),
            }),
          ),
          Effect.orElseSucceed((): HolderCheck => ({ holder, possession: "unknown" })),
        )

      const ownerBackups = yield* Effect.scoped(
        Effect.flatMap(
          records.open(RepoRecord, repoKey, { encryptionKey: group.keys.dhtValues }),
          backupsOf,
        ),
      ).pipe(Effect.orElseSucceed((): ReadonlyArray<BackupRef> => []))
      const backups = new Map<string, BackupRef>()
      for (const ref of ownerBackups) if (!backups.has(ref.record)) backups.set(ref.record, ref)

      // This device is not a copy "elsewhere": its own slot is not asked.
      const members = (yield* group.repos).filter((p) => p.slot !== group.slot)
      return yield* Effect.all(
        [
          ...members.map((p) =>
            check(
              { _tag: "Member", slot: p.slot, repo: p.repoKey },
              Effect.scoped(
                Effect.flatMap(
                  records.open(RepoRecord, p.repoKey, { encryptionKey: group.keys.dhtValues }),
                  (record) => Effect.map(routesOf(record), (found) => found.map((r) => r.route)),
                ),
              ),
            ),
          ),
          ...[...backups.values()].map((ref) =>
            check(
              { _tag: "Backup", record: ref.record, name: ref.name },
              Effect.map(readBackupRoute(records, ref), Option.toArray),
            ),
          ),
        ],
        { concurrency: "unbounded" },
      )
    }).pipe(Effect.withSpan("DataRepos.copies"))
