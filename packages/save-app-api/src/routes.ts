// The routes the Save app calls (its Retrofit `RetrofitClient` under `/api/`, its start-up
// checks `/status` and `/health/ready`) and the rest of save-rust's, each mapped onto the
// backend. Until the backend is ready every `/api` route answers 503, as save-rust did.
import type { BackendShape, LoadedGroup } from "@save-dweb/backend"
import { parseLinkResult } from "@save-dweb/uri-scheme"
import { Cause, Deferred, Effect, Layer, Option, Result, Schema, type Scope, Stream } from "effect"
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
import { AppError, appErrorOf, errorResponse } from "./app-error.ts"
import type { GroupLinks } from "./group-links.ts"
import { mediaTypeOf } from "./media-types.ts"
import type {
  AppFile,
  AppGroup,
  AppRefresh,
  AppRefreshedRepo,
  AppRepo,
  AppUploadResult,
} from "./responses.ts"

export interface RoutesOptions {
  /** Completed once the backend has started and loaded its groups. */
  readonly backend: Deferred.Deferred<BackendShape>
  readonly links: GroupLinks
  readonly version: string
  readonly maxUploadBytes: number
}

const MAX_JSON_BYTES = 64 * 1024

// The app appends `&name=<url-encoded group name>` to a group's `uri` when it shares it
// (`SnowbirdJoinCode`): a display hint of its own, cut before the link is parsed.
const APP_NAME_SUFFIX = "&name="

const NameBody = Schema.Struct({ name: Schema.String })
const UriBody = Schema.Struct({ uri: Schema.String })
const UrlBody = Schema.Struct({ url: Schema.String })

const badRequest = (message: string) => new AppError({ status: 400, message })
const notFound = (message: string) => new AppError({ status: 404, message })

/** Any failure or defect of a handler as the app's error body; defects are logged. */
const answer = <E extends { readonly _tag: string; readonly message: string }, R>(
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
) =>
  handler.pipe(
    Effect.catch((error) => Effect.succeed(errorResponse(appErrorOf(error)))),
    Effect.catchCause((cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.failCause(cause)
        : Effect.as(
            Effect.logError("save-app-api: request failed unexpectedly", cause),
            errorResponse(new AppError({ status: 500, message: "internal error (logged)" })),
          ),
    ),
  )

const json = (body: unknown) => HttpServerResponse.jsonUnsafe(body)

/** The request's JSON body, decoded with `schema`; 400 (413 when too large) otherwise. */
const bodyOf = <S extends Schema.Top & Schema.ConstraintDecoder<unknown>>(
  request: HttpServerRequest.HttpServerRequest,
  schema: S,
) =>
  Effect.gen(function* () {
    const declared = Number(request.headers["content-length"])
    if (Number.isFinite(declared) && declared > MAX_JSON_BYTES) {
      return yield* new AppError({ status: 413, message: "request body too large" })
    }
    const raw = yield* Effect.mapError(request.json, () =>
      badRequest("the request body is not JSON"),
    )
    return yield* Option.match(Schema.decodeUnknownOption(schema)(raw), {
      onNone: () => Effect.fail(badRequest("the request body does not have the expected fields")),
      onSome: (value: S["Type"]) => Effect.succeed(value),
    })
  })

export const makeRoutes = (options: RoutesOptions) => {
  const { links } = options
  const notReady = new AppError({
    status: 503,
    message: "Something went wrong: Backend not ready (the network is still starting)",
  })
  const ready = Effect.flatMap(Deferred.isDone(options.backend), (done) =>
    done ? Deferred.await(options.backend) : Effect.fail(notReady),
  )

  const params = Effect.map(HttpRouter.params, (p) => ({
    group: p.group ?? "",
    repo: p.repo ?? "",
    file: p.file ?? "",
  }))

  /** The group as the app sees it; `uri` is left out (not failed) if no link can be made. */
  const appGroup = (backend: BackendShape, key: string, name: string | undefined) =>
    Effect.map(
      Effect.option(links.linkOf(backend, key)),
      (uri): AppGroup => ({
        key,
        ...(name === undefined ? {} : { name }),
        ...(Option.isSome(uri) ? { uri: uri.value } : {}),
      }),
    )

  const groupOf = (backend: BackendShape, loaded: LoadedGroup) =>
    Effect.flatMap(loaded.group.info, (info) => appGroup(backend, loaded.key, info.name))

  /** Joins by link; a group already known here answers as it is (the app may join twice). */
  const join = (backend: BackendShape, text: string) =>
    Effect.gen(function* () {
      const cut = text.indexOf(APP_NAME_SUFFIX)
      const link = (cut === -1 ? text : text.slice(0, cut)).trim()
      const parsed = parseLinkResult(link)
      if (Result.isFailure(parsed)) return yield* badRequest(parsed.failure.message)
      if (parsed.success._tag !== "GroupInvite") {
        return yield* badRequest("this is not a group invite link")
      }
      const groupKey = parsed.success.group
      const loaded = yield* backend
        .joinGroup(link)
        .pipe(Effect.catchTag("GroupAlreadyKnown", () => backend.loadGroup(groupKey)))
      return yield* groupOf(backend, loaded)
    })

  const appRepo = (backend: BackendShape, groupKey: string, repoKey: string) =>
    Effect.gen(function* () {
      const loaded = yield* backend.loadGroup(groupKey)
      const found = (yield* loaded.repos).find((r) => r.key === repoKey)
      if (found === undefined) return yield* notFound(`no repo ${repoKey} in group ${groupKey}`)
      return { key: found.key, name: found.name, can_write: found.mine } satisfies AppRepo
    })

  /** The member's own repo of a loaded group, or 403 (joined with a read link). */
  const ownRepo = (loaded: LoadedGroup, repoKey?: string) =>
    Effect.gen(function* () {
      const own = Option.getOrUndefined(loaded.repo)
      if (own === undefined) {
        return yield* new AppError({
          status: 403,
          message: "this device joined the group with a read link: it has no repo to write",
        })
      }
      if (repoKey !== undefined && repoKey !== own.key) {
        return yield* new AppError({
          status: 403,
          message: `only this device's own repo (${own.key}) can be written`,
        })
      }
      return own
    })

  const collectionHash = (loaded: LoadedGroup) =>
    Effect.gen(function* () {
      const own = yield* ownRepo(loaded)
      const pointer = yield* own.pointer
      return Option.match(pointer, { onNone: () => "", onSome: (p) => p.root })
    })

  const refreshGroup = (backend: BackendShape, groupKey: string) =>
    Effect.gen(function* () {
      const loaded = yield* backend.loadGroup(groupKey)
      const repos = yield* loaded.repos
      const localBefore = new Map<string, ReadonlySet<string>>()
      for (const repo of repos) {
        const files = yield* Effect.option(backend.files(groupKey, repo.key))
        localBefore.set(
          repo.key,
          new Set(
            Option.getOrElse(files, () => []).flatMap((f) =>
              f.status === "local" ? [f.name] : [],
            ),
          ),
        )
      }
      const result = yield* backend.syncGroup(groupKey)
      const own = Option.getOrUndefined(loaded.repo)
      const ownRoot = own === undefined ? undefined : yield* Effect.option(collectionHash(loaded))
      const entries = yield* Effect.forEach(repos, (repo) =>
        Effect.gen(function* () {
          const files = yield* Effect.result(backend.files(groupKey, repo.key))
          const failed = result.failed.get(repo.key)
          const root =
            repo.mine && ownRoot !== undefined
              ? Option.getOrUndefined(ownRoot)
              : result.synced.get(repo.key)
          const all = Result.isSuccess(files) ? files.success : []
          const before = localBefore.get(repo.key) ?? new Set<string>()
          const error =
            failed?.message ?? (Result.isFailure(files) ? files.failure.message : undefined)
          return {
            repo_id: repo.key,
            name: repo.name,
            can_write: repo.mine,
            ...(root === undefined || root === "" ? {} : { repo_hash: root }),
            all_files: all.map((f) => f.name),
            refreshed_files: all
              .filter((f) => f.status === "local" && !before.has(f.name))
              .map((f) => f.name),
            ...(error === undefined ? {} : { error }),
          } satisfies AppRefreshedRepo
        }),
      )
      return { status: "success", repos: entries } satisfies AppRefresh
    })

  const api = (
    method: "GET" | "POST" | "DELETE",
    path: `/${string}`,
    handler: (
      backend: BackendShape,
      request: HttpServerRequest.HttpServerRequest,
      path: { readonly group: string; readonly repo: string; readonly file: string },
    ) => Effect.Effect<
      HttpServerResponse.HttpServerResponse,
      { readonly _tag: string; readonly message: string },
      Scope.Scope
    >,
  ) =>
    HttpRouter.add(method, `/api${path}`, (request) =>
      answer(
        Effect.gen(function* () {
          const backend = yield* ready
          return yield* handler(backend, request, yield* params)
        }),
      ),
    )

  return Layer.mergeAll(
    HttpRouter.add("GET", "/status", json({ status: "running", version: options.version })),
    HttpRouter.add("GET", "/health", json({ status: "OK" })),
    HttpRouter.add(
      "GET",
      "/health/ready",
      answer(Effect.as(ready, json({ status: "ready", initialized: true }))),
    ),

    api("POST", "/memberships", (backend, request) =>
      Effect.gen(function* () {
        const { uri } = yield* bodyOf(request, UriBody)
        return json({ group: yield* join(backend, uri) })
      }),
    ),
    api("POST", "/groups/join_from_url", (backend, request) =>
      Effect.gen(function* () {
        const { url } = yield* bodyOf(request, UrlBody)
        return json(yield* join(backend, url))
      }),
    ),
    api("GET", "/groups", (backend) =>
      Effect.gen(function* () {
        const known = yield* backend.listGroups
        const groups = yield* Effect.forEach(known, (g) => appGroup(backend, g.key, g.name))
        return json({ groups })
      }),
    ),
    api("POST", "/groups", (backend, request) =>
      Effect.gen(function* () {
        const { name } = yield* bodyOf(request, NameBody)
        const loaded = yield* backend.createGroup(name)
        return json(yield* appGroup(backend, loaded.key, name))
      }),
    ),
    api("GET", "/groups/:group", (backend, _request, path) =>
      Effect.gen(function* () {
        return json(yield* groupOf(backend, yield* backend.loadGroup(path.group)))
      }),
    ),
    // save-rust closed the group's handles; it stays known (and opens again on next use).
    api("DELETE", "/groups/:group", (backend, _request, path) =>
      Effect.gen(function* () {
        const known = yield* backend.listGroups
        if (!known.some((g) => g.key === path.group)) {
          return yield* notFound(`unknown group ${path.group}`)
        }
        yield* backend.closeGroup(path.group)
        return json({})
      }),
    ),
    api("POST", "/groups/:group/refresh", (backend, _request, path) =>
      Effect.map(refreshGroup(backend, path.group), json),
    ),

    api("GET", "/groups/:group/repos", (backend, _request, path) =>
      Effect.gen(function* () {
        const loaded = yield* backend.loadGroup(path.group)
        const repos = (yield* loaded.repos).map(
          (r): AppRepo => ({ key: r.key, name: r.name, can_write: r.mine }),
        )
        return json({ repos })
      }),
    ),
    // The backend made this member's repo when it created or joined the group; the app asks
    // for it right after, with the name the person chose, and finds it again by that name.
    api("POST", "/groups/:group/repos", (backend, request, path) =>
      Effect.gen(function* () {
        const { name } = yield* bodyOf(request, NameBody)
        if (name.trim() === "") return yield* badRequest("a repo name must not be empty")
        const own = yield* ownRepo(yield* backend.loadGroup(path.group))
        yield* own.rename(name)
        return json({ key: own.key, name, can_write: true } satisfies AppRepo)
      }),
    ),
    api("GET", "/groups/:group/repos/:repo", (backend, _request, path) =>
      Effect.map(appRepo(backend, path.group, path.repo), json),
    ),

    api("GET", "/groups/:group/repos/:repo/media", (backend, _request, path) =>
      Effect.gen(function* () {
        const files = (yield* backend.files(path.group, path.repo)).map((f): AppFile => {
          const mimeType = mediaTypeOf(f.name)
          return {
            name: f.name,
            hash: f.hash,
            is_downloaded: f.status === "local",
            size: f.size,
            ...(mimeType === undefined ? {} : { mimeType }),
            created_at: new Date(f.createdAt).toISOString(),
          }
        })
        return json({ files })
      }),
    ),
    // The body is the file's bytes (the app sends `application/octet-stream`), streamed
    // into the repo as they arrive.
    api("POST", "/groups/:group/repos/:repo/media/:file", (backend, request, path) =>
      Effect.gen(function* () {
        const loaded = yield* backend.loadGroup(path.group)
        yield* ownRepo(loaded, path.repo)
        const tooLarge = new AppError({
          status: 413,
          message: `the upload limit is ${options.maxUploadBytes} bytes`,
        })
        const declared = Number(request.headers["content-length"])
        if (Number.isFinite(declared) && declared > options.maxUploadBytes) return yield* tooLarge
        let received = 0
        const body = request.stream.pipe(
          Stream.mapError(() => badRequest("the request body ended before it was complete")),
          Stream.mapArrayEffect((chunks) => {
            for (const chunk of chunks) received += chunk.length
            return received > options.maxUploadBytes
              ? Effect.fail(tooLarge)
              : Effect.succeed(chunks)
          }),
        )
        const written = yield* backend.writeFile(path.group, path.file, body)
        return json({
          name: written.name,
          updated_collection_hash: yield* collectionHash(loaded),
          file_hash: written.hash,
        } satisfies AppUploadResult)
      }),
    ),
    api("GET", "/groups/:group/repos/:repo/media/:file", (backend, _request, path) =>
      Effect.gen(function* () {
        const read = yield* backend.readFile(path.group, path.repo, path.file)
        // Sent as it arrives when not held here, once the first bytes came.
        return HttpServerResponse.stream(yield* read.open(), {
          contentType: "application/octet-stream",
          contentLength: read.file.size,
        })
      }),
    ),
    // save-rust answered with the repo's new collection hash, as a JSON string.
    api("DELETE", "/groups/:group/repos/:repo/media/:file", (backend, _request, path) =>
      Effect.gen(function* () {
        const loaded = yield* backend.loadGroup(path.group)
        yield* ownRepo(loaded, path.repo)
        yield* backend.deleteFile(path.group, path.file)
        return json(yield* collectionHash(loaded))
      }),
    ),
  )
}

/** Unknown routes answer 404 with a string body, like every other failure. */
export const notFoundRoute = HttpRouter.add("*", "*", errorResponse(notFound("no such route")))
