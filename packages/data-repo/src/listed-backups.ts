// The backup servers a repo lists in its subkey 0, beside its name: read by every tier (they
// are sources), rewritten by the owner only.
import { type OpenedRecord, type RecordKey, retryOnConflict } from "@save-dweb/dht-records"
import { Clock, Effect, Option } from "effect"
import { TooManyBackups } from "./errors.ts"
import {
  type BackupRef,
  INFO_SUBKEY,
  MAX_BACKUPS,
  type RepoInfoValue,
  type RepoRecord,
} from "./record.ts"

/** The backup servers a repo record lists, from the network. */
export const backupsOf = (record: OpenedRecord<RepoRecord>) =>
  Effect.map(record.get(INFO_SUBKEY, { refresh: true }), (entry) =>
    Option.match(entry, {
      onNone: (): ReadonlyArray<BackupRef> => [],
      onSome: (e) => e.value.backups ?? [],
    }),
  )

/**
 * Rewrites the list over the network's latest value: `change` gets the current list and
 * the time, and answers the new list, or `undefined` to leave it (then the current list is
 * returned). `TooManyBackups` past `MAX_BACKUPS`.
 */
export const changeBackups = (
  record: OpenedRecord<RepoRecord>,
  change: (current: ReadonlyArray<BackupRef>, now: number) => ReadonlyArray<BackupRef> | undefined,
) =>
  Effect.gen(function* () {
    const entry = yield* record.get(INFO_SUBKEY, { refresh: true })
    const info: RepoInfoValue = Option.match(entry, {
      onNone: (): RepoInfoValue => ({ v: 1, name: "" }),
      onSome: (e) => e.value,
    })
    const current = info.backups ?? []
    const next = change(current, yield* Clock.currentTimeMillis)
    if (next === undefined) return current
    if (next.length > MAX_BACKUPS) {
      return yield* new TooManyBackups({ repo: record.key satisfies RecordKey, max: MAX_BACKUPS })
    }
    // An empty list is written as none: the value then reads as it did before.
    yield* record.set(INFO_SUBKEY, {
      v: 1,
      name: info.name,
      ...(next.length === 0 ? {} : { backups: next }),
    })
    return next
  }).pipe(retryOnConflict)

/** Rewrites the repo's name over the network's latest subkey 0, keeping its backup list. */
export const changeName = (record: OpenedRecord<RepoRecord>, name: string) =>
  Effect.gen(function* () {
    const entry = yield* record.get(INFO_SUBKEY, { refresh: true })
    const backups = Option.match(entry, { onNone: () => undefined, onSome: (e) => e.value.backups })
    if (Option.isSome(entry) && entry.value.value.name === name) return
    yield* record.set(INFO_SUBKEY, { v: 1, name, ...(backups === undefined ? {} : { backups }) })
  }).pipe(retryOnConflict)
