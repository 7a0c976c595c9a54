// Backup servers follow a rotation. A server holds a group by its replicate link, so after
// a rotation it holds the old group only: nothing written to the new one reaches it. The
// member who registered the group with a server kept the server's link (with its access
// secret) in the group's known entry; once it has moved to the new group it registers the
// new group there, lists the server in its new repo record, and asks the server to drop
// the old group (its blobs are freed, and the old tunnel key, which the removed member
// still holds, opens nothing there any more). The removed member gets no new replicate
// link, so it can register nothing of the new group.

import { type BackupDescriptor, formatLink, parseBackupDescriptor } from "@save-dweb/uri-scheme"
import type { RecordKey } from "@save-dweb/veilid"
import { Effect, Option, Result } from "effect"
import { type BackupClient, changeBackupLinks, listIn, withBackupLink } from "./backups.ts"
import type { GroupRegistry } from "./group-registry.ts"
import type { KnownGroupsStore } from "./known-groups.ts"

export interface BackupFollowDeps {
  readonly registry: Pick<GroupRegistry, "loadGroup">
  readonly known: KnownGroupsStore
  readonly client: BackupClient
}

/**
 * Carries the servers whose links the moved entry of `from` still keeps over to the group
 * it moved to (see the module comment). Each server carried is taken off `from`'s entry
 * (and kept in the new one), so a later try carries only the rest; a link that no longer
 * parses is dropped. After trying every server, fails with the first failure, if any.
 * Returns how many servers were carried.
 */
export const carryBackups = (deps: BackupFollowDeps, from: RecordKey) =>
  Effect.gen(function* () {
    const { registry, known, client } = deps
    const stored = yield* known.get(from)
    if (Option.isNone(stored) || stored.value.movedTo === undefined) return 0
    const links = stored.value.backups ?? []
    if (links.length === 0) return 0
    // The group `from` moved to, however many rotations ago.
    const to = yield* registry.loadGroup(from)
    const replicate = formatLink(yield* to.group.invite("replicate"))
    /** Registers the new group with `server` and lists it; then drops the old one there. */
    const carryTo = (server: BackupDescriptor) =>
      Effect.gen(function* () {
        yield* client.add(server, replicate)
        if (Option.isSome(to.repo)) yield* listIn(to.repo.value, server)
        yield* changeBackupLinks(known, to.key, (kept) => withBackupLink(kept, server))
        // `held: false` is fine: another member who registered it too asked first.
        yield* client.remove(server, from)
      })
    const results = yield* Effect.forEach(links, (link) =>
      Effect.gen(function* () {
        const descriptor = yield* Effect.option(parseBackupDescriptor(link))
        const result = Option.isSome(descriptor)
          ? yield* Effect.result(carryTo(descriptor.value))
          : Result.succeed(undefined)
        if (Result.isSuccess(result)) {
          yield* changeBackupLinks(known, from, (kept) => (kept ?? []).filter((k) => k !== link))
        }
        return result
      }),
    )
    const failed = results.find(Result.isFailure)
    if (failed !== undefined) return yield* Effect.fail(failed.failure)
    return results.filter((r) => Result.isSuccess(r) && r.success !== undefined).length
  })
