// The handle of one open repo: the member's own (it writes files, the manifest and the
// collection, and publishes the root) or another member's (it reads them, fetching by
// hash). Wiring of its operations, each in a module of one concern over a shared context
// (`repo-context.ts`): `repo-write.ts`, `repo-read.ts`, `repo-info.ts`. Replication of
// whole repos is `sync.ts`'s, outside the handle.
import type { OpenedRecord } from "@save-dweb/dht-records"
import type { Group } from "@save-dweb/group"
import { Effect, Option, Ref, type Scope } from "effect"
import { type DataRepoError, NotLocal } from "./errors.ts"
import { openManifest } from "./manifest.ts"
import { publishRoute } from "./publish-route.ts"
import { readBlob } from "./read-blob.ts"
import { type RepoRecord, ROUTE_SUBKEY } from "./record.ts"
import { makeRepoContext, type RepoHandleContext } from "./repo-context.ts"
import { makeRepoInfo } from "./repo-info.ts"
import { makeRepoReads } from "./repo-read.ts"
import type { Repo, RepoContext, RepoHandleOptions } from "./repo-shape.ts"
import { makeRepoWrites } from "./repo-write.ts"
import { serveMember } from "./sources.ts"

/**
 * Own repo: loads what was published before (`openMine`), so writes build on it; from
 * another device's store, the whole collection is fetched first.
 */
const loadPublished = (ctx: RepoHandleContext) =>
  Effect.gen(function* () {
    const { store, groupBlobs, group, key } = ctx
    const published = yield* ctx.pointer
    if (Option.isNone(published)) return
    const { root } = published.value
    // Another device's store holds the repo: the next write needs every file here.
    if (!(yield* store.has(root))) {
      const sources = yield* ctx.discover
      if (sources.length === 0) return yield* new NotLocal({ repo: key, hash: root })
      yield* store.fetch({ hash: root, kind: "collection", sources })
    }
    yield* groupBlobs.rememberCollection(group.key, root)
    const fileKey = yield* group.fileKey
    const manifest = yield* openManifest(
      fileKey,
      key,
      published.value.manifest,
      yield* readBlob(store, published.value.manifest),
    )
    yield* Ref.set(ctx.cache, { pointer: published.value, manifest })
  })

/** A handle on `record`'s repo, for as long as the scope lives. */
export const makeRepo = (
  context: RepoContext,
  group: Group,
  record: OpenedRecord<RepoRecord>,
  options: RepoHandleOptions,
): Effect.Effect<Repo, DataRepoError, Scope.Scope> =>
  Effect.gen(function* () {
    const ctx = yield* makeRepoContext(context, group, record, options)
    const writes = yield* makeRepoWrites(ctx)

    if (ctx.writable) {
      yield* loadPublished(ctx)
      const tunnels = options.tunnels
      if (tunnels !== undefined) {
        // Served before the route is published, so whoever finds it is answered.
        yield* serveMember(tunnels, ctx.store, group, (hash) => ctx.groupBlobs.has(group.key, hash))
        yield* publishRoute(record, ROUTE_SUBKEY, tunnels)
      }
    }

    const owner = options.owner
    return {
      key: ctx.key,
      writable: ctx.writable,
      credentials: owner !== undefined ? Option.some({ key: ctx.key, owner }) : Option.none(),
      pointer: ctx.pointer,
      ...makeRepoInfo(ctx),
      ...makeRepoReads(ctx),
      ...writes,
    }
  })
