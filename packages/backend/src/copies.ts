// Where a file is safe: its copies off this device, as their holders prove them now
// (data-repo's possession proofs, asked over each holder's private route), the group's
// target ("keep at least N copies off this device", kept with the known group) and a
// background check of this member's own files that tells, once per file, when one
// reaches it.
import { type DataReposShape, FileNotFound, type Holder } from "@save-dweb/data-repo"
import type { TunnelsShape } from "@save-dweb/tunnels"
import type { RecordKey } from "@save-dweb/veilid"
import { Clock, Duration, Effect, Option, Schedule, type Scope } from "effect"
import { NeedsLocalCopy, UnknownGroup } from "./errors.ts"
import type { EventHub } from "./events.ts"
import { repoOf } from "./files.ts"
import type { GroupRegistry } from "./group-registry.ts"
import type { KnownGroupsStore } from "./known-groups.ts"
import type { BackendShape, FileCopies, FileCopy, RepoRef } from "./shape.ts"

export type CopyOperations = Pick<
  BackendShape,
  "fileCopies" | "copiesSummary" | "copiesTarget" | "setCopiesTarget"
>

export interface CopyOperationsDeps {
  readonly registry: GroupRegistry
  readonly repos: DataReposShape
  readonly known: KnownGroupsStore
  readonly events: EventHub
  /** Without tunnels (memory layers in some tests) no holder can be asked. */
  readonly tunnels: TunnelsShape | undefined
  /** How often own files below their group's target are checked again (default 1 minute). */
  readonly checkEvery?: Duration.Input | undefined
}

const holderId = (holder: Holder) =>
  holder._tag === "Member" ? `member:${holder.slot}` : `backup:${holder.record}`

/**
 * The operations, and in the current scope the background check: every `checkEvery`,
 * each loaded group with a target has its own files below it checked; a file that reaches
 * it is told once as `CopiesReached`.
 */
export const makeCopyOperations = (
  deps: CopyOperationsDeps,
): Effect.Effect<CopyOperations, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { registry, repos, known, events, tunnels } = deps
    /** When this device first saw a holder prove a blob (`group hash holder` → ms). */
    const firstSeen = new Map<string, number>()
    /** Files that reached their group's target and were told (`group hash`). */
    const reached = new Set<string>()

    /** The stored entry of the group under its current key (a rotated group's new one). */
    const entryOf = (groupKey: RecordKey) =>
      Effect.gen(function* () {
        const { key } = yield* registry.loadGroup(groupKey)
        const entry = yield* known.get(key)
        if (Option.isNone(entry)) return yield* new UnknownGroup({ key })
        return entry.value
      })

    const copiesTarget = Effect.fn("Backend.copiesTarget")(function* (groupKey: RecordKey) {
      return (yield* entryOf(groupKey)).copiesTarget
    })

    const setCopiesTarget = Effect.fn("Backend.setCopiesTarget")(function* (
      groupKey: RecordKey,
      atLeast: number | undefined,
    ) {
      const { copiesTarget: _, ...rest } = yield* entryOf(groupKey)
      yield* known.put(atLeast === undefined ? rest : { ...rest, copiesTarget: atLeast })
      // Under a new target every file is told again when it reaches it.
      for (const key of [...reached]) if (key.startsWith(`${rest.key} `)) reached.delete(key)
    })

    const fileCopies = Effect.fn("Backend.fileCopies")(function* (
      groupKey: RecordKey,
      ref: RepoRef,
      name: string,
    ) {
      const loaded = yield* registry.loadGroup(groupKey)
      const repo = yield* repoOf(loaded, ref)
      const file = (yield* repo.list()).find((f) => f.name === name)
      if (file === undefined) return yield* new FileNotFound({ repo: repo.key, name })
      const checks =
        tunnels === undefined
          ? []
          : yield* repos.copies(loaded.group, repo.key, file.hash, tunnels).pipe(
              Effect.catchTag("NotLocal", () =>
                Effect.fail(
                  new NeedsLocalCopy({
                    repo: repo.key,
                    name,
                    message: `checking who holds ${name} needs a copy of it on this device, to check their proofs against: pin it first`,
                  }),
                ),
              ),
            )
      const names = new Map((yield* loaded.group.members).map((m) => [m.slot, m.name]))
      const now = yield* Clock.currentTimeMillis
      const copies: Array<FileCopy> = []
      for (const { holder, possession } of checks) {
        const seenKey = `${loaded.key} ${file.hash} ${holderId(holder)}`
        if (possession === "absent") firstSeen.delete(seenKey)
        if (possession === "holds" && !firstSeen.has(seenKey)) firstSeen.set(seenKey, now)
        if (possession === "absent") continue
        const verified = possession === "holds"
        copies.push({
          kind: holder._tag === "Member" ? "member" : "backup",
          id: holderId(holder),
          name:
            holder._tag === "Member"
              ? (names.get(holder.slot) ?? `member ${holder.slot}`)
              : (holder.name ?? `backup server ${holder.record.slice(5, 13)}`),
          status: verified ? "verified" : "unknown",
          since: verified ? firstSeen.get(seenKey) : undefined,
          verifiedAt: verified ? now : undefined,
          how: verified ? "proof" : undefined,
        })
      }
      const verified = copies.filter((c) => c.status === "verified").length
      const target = yield* copiesTarget(loaded.key)
      const result: FileCopies = {
        group: loaded.key,
        repo: repo.key,
        name,
        hash: file.hash,
        checkedAt: now,
        verified,
        target,
        reached: target === undefined ? undefined : verified >= target,
        copies,
      }
      const reachedKey = `${loaded.key} ${file.hash}`
      if (target !== undefined && verified >= target && !reached.has(reachedKey)) {
        reached.add(reachedKey)
        yield* events.publish({
          _tag: "CopiesReached",
          group: loaded.key,
          repo: repo.key,
          name,
          copies: verified,
          target,
        })
      }
      return result
    })

    const copiesSummary = Effect.fn("Backend.copiesSummary")(function* (
      groupKey: RecordKey,
      atLeast?: number,
    ) {
      const loaded = yield* registry.loadGroup(groupKey)
      const target = atLeast ?? (yield* copiesTarget(loaded.key)) ?? 1
      const own = Option.getOrUndefined(loaded.repo)
      const files = own === undefined ? [] : yield* own.list()
      const counts = yield* Effect.forEach(
        files,
        (f) =>
          fileCopies(loaded.key, "mine", f.name).pipe(
            Effect.map((c) => ({ verified: c.verified, unknown: c.copies.length - c.verified })),
            Effect.orElseSucceed(() => ({ verified: 0, unknown: 0 })),
          ),
        { concurrency: 4 },
      )
      return {
        group: loaded.key,
        atLeast: target,
        files: files.length,
        safe: counts.filter((c) => c.verified >= target).length,
        unknown: counts.filter((c) => c.verified < target && c.verified + c.unknown >= target)
          .length,
      }
    })

    /** Own files of loaded groups with a target, checked until they reach it. */
    const checkPass = Effect.gen(function* () {
      for (const summary of yield* registry.listGroups) {
        if (!summary.loaded) continue
        const target = yield* copiesTarget(summary.key)
        if (target === undefined) continue
        const loaded = yield* registry.loaded(summary.key)
        const own = Option.getOrUndefined(loaded.repo)
        if (own === undefined) continue
        for (const file of yield* own.list()) {
          if (reached.has(`${loaded.key} ${file.hash}`)) continue
          yield* Effect.ignore(fileCopies(loaded.key, "mine", file.name))
        }
      }
    }).pipe(Effect.catchCause((cause) => Effect.logDebug("backend: copies check failed", cause)))
    yield* checkPass.pipe(
      Effect.repeat(Schedule.spaced(deps.checkEvery ?? Duration.minutes(1))),
      Effect.delay(deps.checkEvery ?? Duration.minutes(1)),
      Effect.forkScoped,
    )

    return { copiesTarget, setCopiesTarget, fileCopies, copiesSummary }
  })
