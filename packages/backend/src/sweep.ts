// At start, before any group is loaded: the blob store keeps only what a known group
// references (this member's repos' current roots, the roots data-repo's sync holds and the
// pins it tracks), so a process killed mid-write or mid-sync leaves nothing behind.
import type { BlobHash } from "@save-dweb/blob-store"
import { decodeCredentials } from "@save-dweb/group"
import { Effect, Option } from "effect"
import type { Node } from "./node.ts"

/**
 * The current root of each own repo, from this node's copy of its record (no network round
 * trip at start). Any failure fails the sweep: an own file is never risked on a failed read.
 */
const ownRoots = (node: Pick<Node, "known" | "groups" | "repos">) =>
  Effect.gen(function* () {
    const roots: Array<BlobHash> = []
    for (const entry of yield* node.known.all) {
      if (entry.repo === undefined) continue
      const repoKey = entry.repo.key
      const root = yield* Effect.scoped(
        Effect.gen(function* () {
          const group = yield* node.groups.open(yield* decodeCredentials(entry.credentials))
          return yield* node.repos.publishedRoot(group, repoKey)
        }),
      )
      if (Option.isSome(root)) roots.push(root.value)
    }
    return roots
  })

/** Frees what no known group references; a failure is logged and sweeps nothing. */
export const sweepStore = (node: Pick<Node, "known" | "groups" | "repos">) =>
  Effect.gen(function* () {
    const keep = yield* ownRoots(node)
    const groups = (yield* node.known.all).map((entry) => entry.key)
    const freed = yield* node.repos.sweep({ groups, keep })
    if (freed.length > 0) {
      yield* Effect.logInfo("backend: freed blobs no known group references").pipe(
        Effect.annotateLogs({ freed: freed.length }),
      )
    }
  }).pipe(
    Effect.catchCause((cause) =>
      Effect.logWarning("backend: start-up sweep skipped, an own repo's root was not read", cause),
    ),
    Effect.withSpan("Backend.sweep"),
  )
