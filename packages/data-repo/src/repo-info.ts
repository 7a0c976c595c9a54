// What a repo's record says beside its files: the routes its holders publish, the backup
// servers it lists and its (sealed) name. Any tier reads them; only the owner changes them.
import { Effect } from "effect"
import { backupsOf, changeBackups, changeName } from "./listed-backups.ts"
import type { BackupRef } from "./record.ts"
import type { RepoHandleContext } from "./repo-context.ts"
import type { Repo } from "./repo-shape.ts"
import { routesOf } from "./source-discovery.ts"

export const makeRepoInfo = (
  ctx: RepoHandleContext,
): Pick<Repo, "name" | "routes" | "backups" | "addBackup" | "removeBackup" | "rename"> => {
  const { group, record, lock } = ctx

  const routes = routesOf(record).pipe(
    Effect.map((found) => found.map((r) => r.route)),
    Effect.withSpan("Repo.routes"),
  )

  /** Own repo: rewrites the backup list (one change at a time on this handle). */
  const updateBackups = (
    operation: string,
    change: (
      current: ReadonlyArray<BackupRef>,
      now: number,
    ) => ReadonlyArray<BackupRef> | undefined,
  ) =>
    Effect.andThen(
      ctx.requireWritable(operation),
      lock.withPermit(changeBackups(group, record, change)),
    )

  const addBackup = Effect.fn("Repo.addBackup")(function* (backup: Omit<BackupRef, "at">) {
    return yield* updateBackups("addBackup", (current, at) => [
      ...current.filter((b) => b.record !== backup.record),
      { ...backup, at },
    ])
  })

  const removeBackup = Effect.fn("Repo.removeBackup")(function* (backupRecord: string) {
    return yield* updateBackups("removeBackup", (current) =>
      current.some((b) => b.record === backupRecord)
        ? current.filter((b) => b.record !== backupRecord)
        : undefined,
    )
  })

  const rename = Effect.fn("Repo.rename")(function* (newName: string) {
    yield* ctx.requireWritable("rename")
    yield* lock.withPermit(changeName(group, record, newName))
  })

  return {
    name: ctx.name,
    routes,
    backups: backupsOf(record).pipe(Effect.withSpan("Repo.backups")),
    addBackup,
    removeBackup,
    rename,
  }
}
