// Removing a member and following rotations. The manager revokes the member's slot and
// rotates the group (group's `revoke` and `rotate`): a new record with new secrets, so
// new keys for values, tunnels and files. Every remaining member's backend, seeing the
// rotation on its watch of the group (at load, or while loaded), takes its credentials
// for the new group (`followRotation`), joins it, makes a new repo there and re-encrypts
// its own files into it, then closes the old group (its route and tunnel handlers go with
// it) and frees what the old group held on its disk. The old key keeps finding the group.
// Then the backup servers it had registered the old group with get the new one instead
// (`backup-follow.ts`), in the background, tried again at each start until done.
import type { BlobStoreService } from "@save-dweb/blob-store"
import type { DataReposShape, Repo } from "@save-dweb/data-repo"
import type { GroupCredentials } from "@save-dweb/group"
import type { TunnelsShape } from "@save-dweb/tunnels"
import type { RecordKey } from "@save-dweb/veilid"
import { Effect, Option, Schedule, type Scope, Semaphore, Stream } from "effect"
import { carryBackups } from "./backup-follow.ts"
import { makeBackupClient } from "./backups.ts"
import type { EventHub } from "./events.ts"
import type { GroupRegistry } from "./group-registry.ts"
import type { KnownGroupsStore } from "./known-groups.ts"
import type { BackendError, BackendShape, JoinGroupOptions, LoadedGroup } from "./shape.ts"

export type RotationOperations = Pick<BackendShape, "removeMember">

export interface RotationDeps {
  readonly registry: GroupRegistry
  readonly repos: DataReposShape
  readonly store: BlobStoreService
  readonly events: EventHub
  /** Where the backup links of each group are kept. */
  readonly known: KnownGroupsStore
  /** Reaches the backup servers a rotation's new group is registered with. */
  readonly tunnels: TunnelsShape | undefined
}

/**
 * Copies the files of `from` that `to` does not have, decrypted with the old group's file
 * key and encrypted with the new one (a new hash each: nothing of the new group's blobs is
 * known to a removed member), with their times. Names already in `to` are a move that was
 * cut short.
 */
const reencrypt = (from: Repo, to: Repo) =>
  Effect.gen(function* () {
    const there = new Set((yield* to.list()).map((f) => f.name))
    for (const file of yield* from.list()) {
      if (there.has(file.name)) continue
      yield* to.write(file.name, from.read(file.name), {
        createdAt: file.createdAt,
        modifiedAt: file.modifiedAt,
      })
    }
  })

/** Failures a later try may not meet: the network or a peer was not ready. */
const isFinal = (error: { readonly _tag: string }) =>
  error._tag === "SlotRevoked" ||
  error._tag === "NotAMember" ||
  error._tag === "InvalidCredentials" ||
  error._tag === "InsufficientCapability"

/**
 * `removeMember`, and the follower of rotations seen by loaded groups' watches, running in
 * the current scope.
 */
export const makeRotations = (
  deps: RotationDeps,
): Effect.Effect<RotationOperations, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { registry, repos, store, events, known } = deps
    const scope = yield* Effect.scope
    // One move at a time: a manager's own rotation and its watch's report of it meet here.
    const lock = yield* Semaphore.make(1)
    /** Groups whose removal of this member was reported already. */
    const removed = new Set<RecordKey>()

    /** Moves this member from `from` to the group `credentials` open (see the module comment). */
    const moveTo = (from: LoadedGroup, credentials: GroupCredentials) =>
      Effect.gen(function* () {
        const own = (yield* from.group.members).find((m) => m.slot === from.group.slot)
        const oldRepo = Option.getOrUndefined(from.repo)
        const options: JoinGroupOptions = {
          ...(own?.name === undefined ? {} : { memberName: own.name }),
          ...(oldRepo === undefined ? {} : { repoName: yield* oldRepo.name }),
        }
        const to = yield* registry.enter(credentials, options)
        const oldRoot =
          oldRepo === undefined ? undefined : Option.getOrUndefined(yield* oldRepo.pointer)?.root
        if (oldRepo !== undefined && Option.isSome(to.repo)) {
          yield* reencrypt(oldRepo, to.repo.value)
        }
        yield* registry.moved(from.key, to.key)
        // What the old group held here: others' repos as synced, and the own old collection.
        const freed = yield* repos.purge(from.key)
        if (oldRoot !== undefined) yield* Effect.ignore(store.delete(oldRoot))
        if (freed.length > 0) {
          yield* events.publish({ _tag: "Purged", group: from.key, freed: freed.length })
        }
        yield* events.publish({ _tag: "GroupMoved", group: from.key, to: to.key })
        return to
      })

    const follow = (key: RecordKey) =>
      Effect.gen(function* () {
        const loaded = yield* Effect.option(registry.loaded(key))
        // Moved already (the manager's own removal, or an earlier report).
        if (Option.isNone(loaded)) return
        const next = yield* loaded.value.group.followRotation
        if (Option.isSome(next)) {
          yield* moveTo(loaded.value, next.value)
          yield* carry(key)
        }
      }).pipe(
        lock.withPermit,
        Effect.retry({
          while: (e: BackendError) => !isFinal(e),
          schedule: Schedule.exponential("2 seconds"),
          times: 6,
        }),
        Effect.catch((error) =>
          error._tag === "SlotRevoked" || error._tag === "NotAMember"
            ? Effect.suspend(() => {
                if (removed.has(key)) return Effect.void
                removed.add(key)
                return events.publish({ _tag: "RemovedFromGroup", group: key })
              })
            : Effect.logWarning(`backend: following the rotation of ${key} failed`, error),
        ),
        Effect.withSpan("Backend.followRotation"),
      )

    const client = makeBackupClient(deps)
    /**
     * Carries the backup servers of the moved group `from` over in the background, with
     * retries while servers are unreachable; what is left is tried again at the next start.
     */
    const carry = (from: RecordKey) =>
      carryBackups({ registry, known, client }, from).pipe(
        Effect.retry({ schedule: Schedule.exponential("2 seconds"), times: 8 }),
        Effect.tap((carried) =>
          carried === 0
            ? Effect.void
            : Effect.logInfo(`backend: ${carried} backup server(s) follow the rotation of ${from}`),
        ),
        Effect.catchCause((cause) =>
          Effect.logWarning(
            `backend: the backup servers of ${from} do not hold its new group yet (tried again at the next start)`,
            cause,
          ),
        ),
        Effect.withSpan("Backend.carryBackups"),
        Effect.forkIn(scope),
        Effect.asVoid,
      )

    yield* Stream.runForEach(registry.rotated, follow).pipe(Effect.forkScoped)
    // Moves of earlier runs whose backup servers were not all carried over.
    yield* known.all.pipe(
      Effect.map((all) =>
        all.filter((e) => e.movedTo !== undefined && (e.backups ?? []).length > 0),
      ),
      Effect.flatMap((pending) => Effect.forEach(pending, (e) => carry(e.key), { discard: true })),
      Effect.catchCause((cause) =>
        Effect.logWarning("backend: could not look for backup servers left to carry over", cause),
      ),
    )

    const removeMember = Effect.fn("Backend.removeMember")(function* (
      groupKey: RecordKey,
      slot: number,
    ) {
      return yield* lock.withPermit(
        Effect.gen(function* () {
          const loaded = yield* registry.loadGroup(groupKey)
          yield* loaded.group.revoke(slot)
          const credentials = yield* Effect.scoped(
            Effect.map(loaded.group.rotate, (rotation) => rotation.group.credentials),
          )
          const to = yield* moveTo(loaded, credentials)
          yield* carry(loaded.key)
          return { previous: loaded.key, group: to.key }
        }),
      )
    })

    return { removeMember }
  })
