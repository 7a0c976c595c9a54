// The HTTP server over a backend: the HttpApi's handlers, bearer auth, the error shape
// for everything (undecodable requests, unknown routes, defects), `/docs`, and listening
// on 127.0.0.1 or a unix socket in the caller's scope.

import { chmod } from "node:fs/promises"
import { createServer, type IncomingMessage, type Server } from "node:http"
import type { Socket } from "node:net"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import {
  type BackendShape,
  freeSocketPath,
  type LoadedGroup,
  type RepoRef,
} from "@save-dweb/backend"
import {
  Api,
  type ApiError,
  Auth,
  BadRequest,
  Decoding,
  errorStatus,
  type FileInfo,
  Forbidden,
  type GroupDetail,
  Internal,
  NotFound,
  openApiDocument,
  PayloadTooLarge,
  RangeNotSatisfiable,
  type ServerEvent,
  Unauthorized,
} from "@save-dweb/client"
import {
  ByteSize,
  Cause,
  Clock,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Layer,
  Option,
  Redacted,
  type Scope,
  Stream,
  type Types,
} from "effect"
import {
  HttpIncomingMessage,
  HttpRouter,
  HttpServer,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse,
} from "effect/http"
import { HttpApiBuilder, HttpApiError, HttpApiSecurity } from "effect/http-api"
import { docsGate, docsLayer } from "./docs.ts"
import { toApiError } from "./error-mapping.ts"
import { allowedHosts, hostAllowed } from "./host-check.ts"
import { parseRange, sliceStream } from "./range.ts"
import { makeSignInCodes, type SignInCodes } from "./sign-in.ts"
import { loadStaticFiles, pageHeaders, type StaticFile } from "./static-files.ts"
import { loadOrCreateToken, tokensEqual } from "./token.ts"

/** The server's connections that have not begun a request yet, kept up to date. */
const connectionsWithoutRequest = (server: Server): ReadonlySet<Socket> => {
  const waiting = new Set<Socket>()
  server.on("connection", (connection: Socket) => {
    waiting.add(connection)
    connection.once("close", () => waiting.delete(connection))
  })
  server.on("request", (request: IncomingMessage) => waiting.delete(request.socket))
  return waiting
}

/** Where to listen: TCP (default host 127.0.0.1; port 0 = any free port) or a unix socket. */
export type ListenOn =
  | { readonly host?: string; readonly port: number }
  | { readonly socket: string }

export interface ServeOptions {
  readonly backend: BackendShape
  /** Where the token file (`rpc-token`, mode 0600) is kept. */
  readonly dataDir: string
  readonly listen: ListenOn
  /** Largest upload body (default 64 GiB). */
  readonly maxUploadBytes?: number
  /** Largest JSON request body (default 1 MiB). */
  readonly maxJsonBytes?: number
  /** Log each request (Effect's HTTP logger); default off. */
  readonly logRequests?: boolean
  /**
   * A directory of built web files served at `/` with a strict Content-Security-Policy
   * (the daemon's UI, which signs in with a one-time code). Default: none.
   */
  readonly staticDir?: string
}

export interface Served {
  /** `http://127.0.0.1:<port>` (TCP), or `http://localhost` for a unix socket. */
  readonly url: string
  readonly token: string
  readonly tokenFile: string
  readonly address:
    | { readonly _tag: "Tcp"; readonly host: string; readonly port: number }
    | { readonly _tag: "Socket"; readonly path: string }
}

/** The server could not start: token file, address in use, socket path taken. */
export class ServeError extends Data.TaggedError("ServeError")<{
  readonly message: string
}> {}

export const DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 ** 3
export const DEFAULT_MAX_JSON_BYTES = 1024 ** 2

const HEARTBEAT = Duration.seconds(15)

const errorResponse = (error: ApiError, headers?: Record<string, string>) =>
  HttpServerResponse.jsonUnsafe(
    { error: error._tag, message: error.message },
    { status: errorStatus[error._tag], ...(headers === undefined ? {} : { headers }) },
  )

const isMaxBytesExceeded = (defect: unknown): boolean => {
  let current: unknown = defect
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    if ((current as { message?: unknown }).message === "maxBytes exceeded") return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}

/** The error a request's failure cause stands for, if it is one a client caused. */
const requestErrorOf = (cause: Cause.Cause<unknown>): ApiError | undefined => {
  for (const reason of cause.reasons) {
    const value =
      reason._tag === "Fail" ? reason.error : reason._tag === "Die" ? reason.defect : undefined
    if (value === undefined) continue
    if (HttpApiError.HttpApiSchemaError.is(value)) {
      if (value.kind === "Body" || value.kind === "ResponseHeaders") return undefined
      return new BadRequest({
        message: `request ${value.kind.toLowerCase()} does not decode: ${value.cause.message}`,
      })
    }
    if (HttpApiError.HttpApiPayloadTooLarge.is(value) || isMaxBytesExceeded(value)) {
      return new PayloadTooLarge({ message: "request body too large" })
    }
  }
  return undefined
}

const unauthorized = () => new Unauthorized({ message: "missing or wrong bearer token" })

const authLayer = (token: string) =>
  Layer.succeed(Auth)({
    bearer: (httpEffect, { credential }) =>
      tokensEqual(Redacted.value(credential), token) ? httpEffect : Effect.fail(unauthorized()),
  })

/**
 * A route outside the HttpApi (`/openapi.json`, `/docs`) behind the same bearer token,
 * read from the request as the API's own security does.
 */
const withToken = (token: string, response: HttpServerResponse.HttpServerResponse) =>
  Effect.map(HttpApiBuilder.securityDecode(HttpApiSecurity.bearer), (credential) =>
    tokensEqual(Redacted.value(credential), token) ? response : errorResponse(unauthorized()),
  )

const decodingLayer = (maxJsonBytes: number) =>
  Layer.succeed(Decoding)((httpEffect) =>
    httpEffect.pipe(
      Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxJsonBytes)),
      Effect.catchCause((cause): Effect.Effect<never, Types.unhandled | ApiError> => {
        const error = requestErrorOf(cause)
        return error === undefined ? Effect.failCause(cause) : Effect.fail(error)
      }),
    ),
  )

/**
 * Everything that reaches the router's edge without a response: unknown routes (404),
 * undecodable requests (400, 413) and defects (500, logged), all in the error shape.
 */
const errorShape = HttpRouter.middleware(
  (httpEffect) =>
    Effect.catchCause(httpEffect, (cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
      for (const reason of cause.reasons) {
        if (reason._tag === "Die" && HttpServerResponse.isHttpServerResponse(reason.defect)) {
          return Effect.succeed(reason.defect)
        }
        if (
          reason._tag === "Fail" &&
          reason.error instanceof HttpServerError.HttpServerError &&
          reason.error.reason._tag === "RouteNotFound"
        ) {
          return Effect.succeed(errorResponse(new NotFound({ message: "no such route" })))
        }
      }
      const error = requestErrorOf(cause)
      if (error !== undefined) return Effect.succeed(errorResponse(error))
      return Effect.as(
        Effect.logError("rpc-server: request failed unexpectedly", cause),
        errorResponse(new Internal({ message: "internal error (logged by the server)" })),
      )
    }),
  { global: true },
)

interface HostsAllowed {
  current: ReadonlySet<string> | undefined
  /** No check: a unix socket, or every interface. */
  socket: boolean
}

/**
 * Answers only requests whose `Host` names this server (DNS rebinding); `allowed` is set
 * once the server knows its port, and stays unset for a unix socket (no check there).
 */
const hostCheck = (allowed: HostsAllowed) =>
  HttpRouter.middleware(
    (httpEffect) =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        allowed.socket ||
        (allowed.current !== undefined && hostAllowed(allowed.current, request.headers.host))
          ? httpEffect
          : Effect.succeed(
              errorResponse(
                new Forbidden({
                  message: `this server answers only to its own address, not to Host ${request.headers.host ?? "(none)"}`,
                }),
              ),
            ),
      ),
    { global: true },
  )

/** The UI's files at `/` and below; anything else not routed is the API's 404. */
const staticRoutes = (files: ReadonlyMap<string, StaticFile>) => {
  const answer = (path: string) => {
    const file = files.get(path === "/" ? "/index.html" : path)
    return file === undefined
      ? errorResponse(new NotFound({ message: "no such route" }))
      : HttpServerResponse.uint8Array(file.bytes, {
          contentType: file.contentType,
          headers: pageHeaders(path),
        })
  }
  return Layer.mergeAll(
    HttpRouter.add("GET", "/", Effect.succeed(answer("/"))),
    HttpRouter.add(
      "GET",
      "/*",
      Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
        answer(new URL(request.url, "http://x").pathname),
      ),
    ),
  )
}

/** The group's description for the API. */
const detailOf = (loaded: LoadedGroup) =>
  Effect.map(
    loaded.group.info,
    (info): GroupDetail => ({
      key: loaded.key,
      name: info.name ?? null,
      tier: loaded.group.tier,
      slot: loaded.group.slot ?? null,
      sourcePolicy: info.sourcePolicy,
      transport: info.transport,
      repo: Option.match(loaded.repo, { onNone: () => null, onSome: (r) => r.key }),
    }),
  )

const api = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.mapError(effect, toApiError)

const fileInfo = (f: {
  readonly name: string
  readonly hash: string
  readonly size: number
  readonly storedSize: number
  readonly createdAt: number
  readonly modifiedAt: number
  readonly owner: string
  readonly status: "local" | "remote-only"
}): FileInfo => ({
  name: f.name,
  hash: f.hash,
  size: f.size,
  storedSize: f.storedSize,
  createdAt: f.createdAt,
  modifiedAt: f.modifiedAt,
  owner: f.owner,
  status: f.status,
})

const repoRef = (repo: string): RepoRef => repo

const handlers = (
  backend: BackendShape,
  limits: { readonly maxUploadBytes: number },
  closing: Deferred.Deferred<void>,
  signIn: SignInCodes & { readonly token: string },
) => {
  const system = HttpApiBuilder.group(Api, "system", (h) =>
    h.handle("health", () => Effect.succeed({ ok: true as const, api: "v1" as const })),
  )

  const node = HttpApiBuilder.group(Api, "node", (h) =>
    h
      .handle("status", () =>
        Effect.map(backend.status, (s) => ({
          veilid: s.network ?? null,
          iroh: s.iroh ?? null,
          groups: s.groups,
        })),
      )
      .handle("events", () =>
        Effect.gen(function* () {
          // Subscribed before the answer starts, and the first event is a heartbeat: a
          // client that has read one misses nothing that happens after. The subscription
          // lives in the request's scope, which the server closes however the request
          // ends: the stream written out and ended, or the connection closed, even before
          // the answer started (the stream is then never run).
          const events = (yield* backend.subscribe) as Stream.Stream<ServerEvent>
          const heartbeat: Stream.Stream<ServerEvent> = Stream.tick(HEARTBEAT).pipe(
            Stream.mapEffect(() =>
              Effect.map(Clock.currentTimeMillis, (at): ServerEvent => ({ _tag: "Heartbeat", at })),
            ),
          )
          return Stream.concat(
            Stream.take(heartbeat, 1),
            Stream.merge(events, Stream.drop(heartbeat, 1)),
          ).pipe(
            // Ended when the server stops, so its shutdown does not wait for listeners.
            Stream.interruptWhen(Deferred.await(closing)),
          )
        }),
      ),
  )

  const groups = HttpApiBuilder.group(Api, "groups", (h) =>
    h.handleAll({
      list: () =>
        api(
          Effect.map(backend.listGroups, (all) =>
            all.map((g) => ({ key: g.key, name: g.name ?? null, tier: g.tier, loaded: g.loaded })),
          ),
        ),
      create: ({ payload }) =>
        api(
          Effect.flatMap(
            backend.createGroup(payload.name, {
              ...(payload.memberName === undefined ? {} : { memberName: payload.memberName }),
              ...(payload.repoName === undefined ? {} : { repoName: payload.repoName }),
              ...(payload.sourcePolicy === undefined ? {} : { sourcePolicy: payload.sourcePolicy }),
              ...(payload.transport === undefined ? {} : { transport: payload.transport }),
            }),
            detailOf,
          ),
        ),
      join: ({ payload }) =>
        api(
          Effect.flatMap(
            backend.joinGroup(payload.link, {
              ...(payload.memberName === undefined ? {} : { memberName: payload.memberName }),
              ...(payload.repoName === undefined ? {} : { repoName: payload.repoName }),
            }),
            detailOf,
          ),
        ),
      get: ({ params }) => api(Effect.flatMap(backend.loadGroup(params.group), detailOf)),
      leave: ({ params }) => api(backend.leaveGroup(params.group)),
      forget: ({ params }) =>
        api(
          Effect.gen(function* () {
            const known = yield* backend.listGroups
            if (!known.some((g) => g.key === params.group)) {
              return yield* Effect.fail({ _tag: "UnknownGroup", key: params.group } as const)
            }
            yield* backend.forgetGroup(params.group)
          }),
        ),
      invite: ({ params, payload }) =>
        api(Effect.map(backend.invite(params.group, payload.tier), (link) => ({ link }))),
      sync: ({ params }) =>
        api(
          Effect.map(backend.syncGroup(params.group), (result) => ({
            synced: [...result.synced].map(([repo, root]) => ({ repo, root })),
            failed: [...result.failed].map(([repo, error]) => ({
              repo,
              error: error._tag,
              message: toApiError(error).message,
            })),
            freed: result.freed.length,
          })),
        ),
      rename: ({ params, payload }) =>
        api(
          Effect.andThen(backend.renameGroup(params.group, payload.name), () =>
            Effect.flatMap(backend.loadGroup(params.group), detailOf),
          ),
        ),
      setTransport: ({ params, payload }) =>
        api(
          Effect.andThen(backend.setTransport(params.group, payload.transport), () =>
            Effect.flatMap(backend.loadGroup(params.group), detailOf),
          ),
        ),
      // Once the group is loaded, whatever stops the round trip (no repo or route yet, the
      // member offline, the call refused) is the answer, not an error.
      reachability: ({ params }) =>
        api(
          Effect.andThen(backend.loadGroup(params.group), () =>
            backend.ping(params.group, params.member).pipe(
              Effect.timeoutOrElse({
                duration: "15 seconds",
                orElse: () => Effect.fail({ message: "no answer within 15 s" }),
              }),
              Effect.match({
                onSuccess: (rtt) => ({
                  slot: params.member,
                  reachable: true,
                  roundTripMs: Math.round(Duration.toMillis(rtt)),
                  reason: null,
                }),
                onFailure: (e) => ({
                  slot: params.member,
                  reachable: false,
                  roundTripMs: null,
                  reason: e.message,
                }),
              }),
            ),
          ),
        ),
      removeMember: ({ params }) => api(backend.removeMember(params.group, params.member)),
      renameMember: ({ params, payload }) =>
        api(backend.renameMember(params.group, params.member, payload.name)),
      members: ({ params }) =>
        api(
          Effect.map(backend.members(params.group), (all) =>
            all.map((m) => ({
              slot: m.slot,
              name: m.name ?? null,
              repo: m.repo ?? null,
              joinedAt: m.joinedAt,
              mine: m.mine,
            })),
          ),
        ),
      repos: ({ params }) =>
        api(
          Effect.flatMap(backend.loadGroup(params.group), (loaded) =>
            Effect.map(loaded.repos, (all) =>
              all.map((r) => ({
                key: r.key,
                slot: r.slot,
                memberName: r.memberName ?? null,
                name: r.name,
                mine: r.mine,
              })),
            ),
          ),
        ),
      copies: ({ params, query }) => api(backend.copiesSummary(params.group, query.atLeast)),
      copiesTarget: ({ params }) =>
        api(Effect.map(backend.copiesTarget(params.group), (t) => ({ atLeast: t ?? null }))),
      setCopiesTarget: ({ params, payload }) =>
        api(
          Effect.andThen(backend.setCopiesTarget(params.group, payload.atLeast ?? undefined), () =>
            Effect.map(backend.copiesTarget(params.group), (t) => ({ atLeast: t ?? null })),
          ),
        ),
    }),
  )

  const files = HttpApiBuilder.group(Api, "files", (h) =>
    h
      .handle("list", ({ params }) =>
        api(
          Effect.map(backend.files(params.group, repoRef(params.repo)), (all) => all.map(fileInfo)),
        ),
      )
      .handleRaw("upload", ({ params, request }) =>
        Effect.gen(function* () {
          const loaded = yield* api(backend.loadGroup(params.group))
          const own = Option.getOrUndefined(loaded.repo)
          if (params.repo !== "mine" && own?.key !== params.repo) {
            return yield* new Forbidden({
              message: `only this member's own repo (${own?.key ?? "none"}) is written here`,
            })
          }
          const declared = Number(request.headers["content-length"])
          const tooLarge = new PayloadTooLarge({
            message: `the upload limit is ${limits.maxUploadBytes} bytes`,
          })
          if (Number.isFinite(declared) && declared > limits.maxUploadBytes) {
            return yield* tooLarge
          }
          let received = 0
          const body = request.stream.pipe(
            Stream.mapError(
              () => new BadRequest({ message: "the request body ended before it was complete" }),
            ),
            // Counted per batch of chunks: one effect per read, not per chunk.
            Stream.mapArrayEffect((chunks) => {
              for (const chunk of chunks) received += chunk.length
              return received > limits.maxUploadBytes
                ? Effect.fail(tooLarge)
                : Effect.succeed(chunks)
            }),
          )
          const written = yield* backend
            .writeFile(params.group, params.name, body)
            .pipe(
              Effect.mapError((e) =>
                e._tag === "PayloadTooLarge" || e._tag === "BadRequest" ? e : toApiError(e),
              ),
            )
          return fileInfo(written)
        }),
      )
      .handle("download", ({ params, request }) =>
        Effect.gen(function* () {
          const read = yield* api(backend.readFile(params.group, repoRef(params.repo), params.name))
          const size = read.file.size
          const range = parseRange(request.headers.range, size)
          const common = { "accept-ranges": "bytes" }
          if (range._tag === "Unsatisfiable") {
            return errorResponse(
              new RangeNotSatisfiable({
                message: `${request.headers.range} is outside the file's ${size} bytes`,
              }),
              { ...common, "content-range": `bytes */${size}` },
            )
          }
          // A file not held here is fetched as it is sent: the answer waits for its first
          // bytes, so a fetch that cannot start is a status, not a cut body.
          const opened = (offset: number) =>
            api(read.open(offset)).pipe(Effect.map(Stream.mapError(toApiError)))
          if (range._tag === "Whole") {
            const bytes = yield* opened(0)
            return HttpServerResponse.stream(bytes, {
              contentType: "application/octet-stream",
              contentLength: size,
              headers: common,
            })
          }
          // From the record holding the first byte, not from the file's start.
          const ranged = yield* opened(range.start)
          return HttpServerResponse.stream(sliceStream(ranged, 0, range.end - range.start), {
            status: 206,
            contentType: "application/octet-stream",
            contentLength: range.end - range.start + 1,
            headers: { ...common, "content-range": `bytes ${range.start}-${range.end}/${size}` },
          })
        }),
      )
      .handle("delete", ({ params }) =>
        Effect.gen(function* () {
          const loaded = yield* api(backend.loadGroup(params.group))
          const own = Option.getOrUndefined(loaded.repo)
          if (params.repo !== "mine" && own?.key !== params.repo) {
            return yield* new Forbidden({
              message: "only this member's own files are deleted here",
            })
          }
          yield* api(backend.deleteFile(params.group, params.name))
        }),
      )
      .handle("copies", ({ params }) =>
        api(
          Effect.map(backend.fileCopies(params.group, repoRef(params.repo), params.name), (c) => ({
            ...c,
            target: c.target ?? null,
            reached: c.reached ?? null,
            copies: c.copies.map((copy) => ({
              ...copy,
              since: copy.since ?? null,
              verifiedAt: copy.verifiedAt ?? null,
              how: copy.how ?? null,
            })),
          })),
        ),
      )
      .handle("pin", ({ params }) =>
        api(backend.pin(params.group, repoRef(params.repo), params.name)),
      )
      .handle("unpin", ({ params }) =>
        api(backend.unpin(params.group, repoRef(params.repo), params.name)),
      ),
  )

  const pairing = HttpApiBuilder.group(Api, "pairing", (h) =>
    h.handleAll({
      makeLink: ({ payload }) =>
        api(Effect.map(backend.makePairingLink(payload.groups), (link) => ({ link }))),
      pair: ({ payload }) =>
        api(
          Effect.map(backend.pair(payload.link), (all) => ({
            groups: all.map((g) => ({
              key: g.key,
              name: g.name ?? null,
              tier: g.tier,
              loaded: g.loaded,
            })),
          })),
        ),
    }),
  )

  const backups = HttpApiBuilder.group(Api, "backups", (h) =>
    h.handleAll({
      add: ({ params, payload }) =>
        api(
          Effect.map(backend.addBackup(params.group, payload.link), (r) => ({
            group: r.group,
            server: r.server,
            name: r.name ?? null,
            already: r.already,
          })),
        ),
      forGroup: ({ params }) =>
        api(
          Effect.map(backend.groupBackups(params.group), (all) =>
            all.map((b) => ({
              server: b.server,
              name: b.name ?? null,
              listedBy: b.listedBy.map((m) => ({
                slot: m.slot,
                memberName: m.memberName ?? null,
                mine: m.mine,
                at: m.at,
              })),
            })),
          ),
        ),
      remove: ({ params, payload }) =>
        api(
          backend.removeBackup(params.group, payload.link, {
            ...(payload.force === undefined ? {} : { force: payload.force }),
          }),
        ),
      held: ({ payload }) => api(backend.listBackups(payload.link)),
    }),
  )

  const signInGroup = HttpApiBuilder.group(Api, "signIn", (h) =>
    h.handleAll({
      code: () => Effect.map(Clock.currentTimeMillis, (now) => signIn.issue(now)),
      exchange: ({ payload }) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          signIn.redeem(payload.code, now)
            ? Effect.succeed({ token: signIn.token })
            : Effect.fail(
                new Unauthorized({ message: "the sign-in code is wrong, used or expired" }),
              ),
        ),
    }),
  )

  return Layer.mergeAll(system, node, groups, files, pairing, backups, signInGroup)
}

/**
 * Starts the API server in the current scope (closing the scope stops it): the token is
 * read from `<dataDir>/rpc-token` or made there, then the server listens on
 * `listen` (TCP on 127.0.0.1 unless another host is given, or a unix socket made 0600).
 */
export const serve = (options: ServeOptions): Effect.Effect<Served, ServeError, Scope.Scope> =>
  Effect.gen(function* () {
    const { token, path: tokenFile } = yield* loadOrCreateToken(options.dataDir).pipe(
      Effect.mapError((e) => new ServeError({ message: `token file ${e.path}: ${e.message}` })),
    )
    const listen = options.listen
    const socket = "socket" in listen ? listen.socket : undefined
    const host = "socket" in listen ? undefined : (listen.host ?? "127.0.0.1")
    if (socket !== undefined)
      yield* freeSocketPath(socket).pipe(
        Effect.mapError((e) => new ServeError({ message: e.message })),
      )

    const closing = yield* Deferred.make<void>()
    const codes = makeSignInCodes()
    const staticDir = options.staticDir
    const staticFiles =
      staticDir === undefined
        ? undefined
        : yield* Effect.tryPromise({
            try: () => loadStaticFiles(staticDir),
            catch: (e) => new ServeError({ message: `web files in ${staticDir}: ${String(e)}` }),
          })
    const hosts: HostsAllowed = { current: undefined, socket: socket !== undefined }
    const routes = Layer.mergeAll(
      HttpApiBuilder.layer(Api).pipe(
        Layer.provide(
          handlers(
            options.backend,
            { maxUploadBytes: options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES },
            closing,
            { ...codes, token },
          ),
        ),
        Layer.provide([
          authLayer(token),
          decodingLayer(options.maxJsonBytes ?? DEFAULT_MAX_JSON_BYTES),
        ]),
      ),
      // The API's description needs the token too: every route but health does.
      docsLayer,
      docsGate(token, codes, () => errorResponse(unauthorized())),
      HttpRouter.add(
        "GET",
        "/openapi.json",
        withToken(token, HttpServerResponse.jsonUnsafe(openApiDocument())),
      ),
      staticFiles === undefined ? Layer.empty : staticRoutes(staticFiles),
      hostCheck(hosts),
      errorShape,
    )
    // No overall request timeout: a large upload may take longer than Node's 5 minutes.
    const nodeServer = createServer({ requestTimeout: 0, headersTimeout: 60_000 })
    const waiting = connectionsWithoutRequest(nodeServer)
    const server = NodeHttpServer.layer(() => nodeServer, {
      ...(socket !== undefined
        ? { path: socket }
        : { host, port: "port" in listen ? listen.port : 0 }),
      // Requests still running when the scope closes get this long to finish.
      gracefulShutdownTimeout: Duration.seconds(5),
    })
    const context = yield* Layer.build(
      HttpRouter.serve(routes, {
        // A file name may be 255 UTF-8 bytes, up to 765 characters percent-encoded;
        // the router's default (100) would answer a long name with 404.
        routerConfig: { maxParamLength: 1024 },
        disableListenLog: true,
        disableLogger: options.logRequests !== true,
      }).pipe(Layer.provideMerge(server)),
    ).pipe(
      Effect.mapError((e) => new ServeError({ message: `cannot listen: ${String(e.cause ?? e)}` })),
    )
    // Runs before the server's own shutdown (finalizers run last-added first).
    yield* Effect.addFinalizer(() =>
      Effect.andThen(
        Deferred.succeed(closing, undefined),
        // Node's `close` ends idle keep-alive connections but waits for ones that never
        // sent a request (fetch opens a spare one when a request is aborted; browsers
        // preconnect): those would hold the shutdown until their client lets go.
        Effect.sync(() => {
          for (const connection of waiting) connection.destroy()
        }),
      ),
    )
    const bound = Context.get(context, HttpServer.HttpServer).address
    if (socket !== undefined) {
      // Only this user may connect: the socket is the API's door.
      yield* Effect.promise(() => chmod(socket, 0o600))
      return {
        url: "http://localhost",
        token,
        tokenFile,
        address: { _tag: "Socket", path: socket },
      } satisfies Served
    }
    const port = bound._tag === "UnixPathAddress" ? 0 : bound.port
    const allowed = allowedHosts(host ?? "127.0.0.1", port)
    if (allowed === undefined) hosts.socket = true
    else hosts.current = allowed
    const urlHost = host?.includes(":") ? `[${host}]` : (host ?? "127.0.0.1")
    return {
      url: `http://${urlHost}:${port}`,
      token,
      tokenFile,
      address: { _tag: "Tcp", host: host ?? "127.0.0.1", port },
    } satisfies Served
  })
